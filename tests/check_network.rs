//! `edgeprep check --network` end to end, on loopback only: a CONNECT proxy started by the test
//! (its URL in config.toml and the units' drop-ins) records what edgeprep asks for and answers
//! 200, 407 or 502 per target; a silent listener stands for a proxy that never answers; a
//! listener on 127.0.0.1 stands for a hub reached directly. No test resolves a public name:
//! every target is either behind the test proxy or 127.0.0.1.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::Device;

/// One request the test proxy received.
#[derive(Debug, Clone)]
struct Seen {
    request_line: String,
    host: Option<String>,
    authorization: Option<String>,
}

/// A CONNECT proxy on 127.0.0.1: answers `answers` by target (`host:port` → status line),
/// 200 otherwise.
struct TestProxy {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestProxy {
    fn start(answers: &[(&str, &str)]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let answers: Vec<(String, String)> =
            answers.iter().map(|(t, a)| (t.to_string(), a.to_string())).collect();
        let record = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (record, answers) = (Arc::clone(&record), answers.clone());
                std::thread::spawn(move || serve(stream, &record, &answers));
            }
        });
        TestProxy { port, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        let mut seen = self.seen.lock().unwrap().clone();
        seen.sort_by(|a, b| a.request_line.cmp(&b.request_line));
        seen
    }

    fn targets(&self) -> Vec<String> {
        self.seen().iter().map(|s| s.request_line.clone()).collect()
    }
}

fn serve(mut stream: TcpStream, record: &Mutex<Vec<Seen>>, answers: &[(String, String)]) {
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = Vec::new();
    let mut buffer = [0u8; 512];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let header = |name: &str| {
        text.split("\r\n").skip(1).find_map(|l| {
            l.split_once(": ").filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_string())
        })
    };
    let seen = Seen { host: header("Host"), authorization: header("Proxy-Authorization"), request_line };
    let target = seen.request_line.split(' ').nth(1).unwrap_or_default().to_string();
    record.lock().unwrap().push(seen);
    let status = answers
        .iter()
        .find(|(t, _)| *t == target)
        .map_or("HTTP/1.1 200 Connection established", |(_, a)| a.as_str());
    let _ = stream.write_all(format!("{status}\r\n\r\n").as_bytes());
}

const PASSWORD_RAW: &str = "S3cr%40t";
const PASSWORD: &str = "S3cr@t";

fn proxy_url(port: u16) -> String {
    format!("http://tech:{PASSWORD_RAW}@127.0.0.1:{port}")
}

/// A device whose edgeAgent, dockerd and identityd all use `proxy` (systemd wants `%` as `%%`).
fn device_behind(proxy: &str, provisioning: &str, protocol: &str) -> Device {
    let device = Device::new();
    device.write(
        "/etc/aziot/config.toml",
        format!(
            "hostname = \"edge-01\"\n\n{provisioning}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\nimage = \"contoso.azurecr.io/azureiotedge-agent:1.4.43\"\n\n[agent.config.auth]\nserveraddress = \"contoso.azurecr.io\"\nusername = \"puller\"\npassword = \"registry-secret\"\n\n[agent.env]\nUpstreamProtocol = \"{protocol}\"\nhttps_proxy = \"{proxy}\"\n"
        ),
    );
    let systemd = proxy.replace('%', "%%");
    for unit in ["docker", "aziot-edged", "aziot-identityd"] {
        device.write(
            &format!("/etc/systemd/system/{unit}.service.d/http-proxy.conf"),
            format!("[Service]\nEnvironment=\"https_proxy={systemd}\"\n"),
        );
    }
    device
}

const MANUAL: &str = "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h.azure-devices.net;DeviceId=edge-01;SharedAccessKey=c2VjcmV0LXNhcy1rZXk=\"\n";
const DPS: &str = "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\nid_scope = \"0ne00000000\"\n\n[provisioning.attestation]\nmethod = \"symmetric_key\"\nregistration_id = \"edge-01\"\nsymmetric_key = { value = \"c2VjcmV0LXNhcy1rZXk=\" }\n";

fn run(device: &Device, args: &[&str]) -> (i32, String) {
    let mut full = vec!["check"];
    full.extend_from_slice(args);
    let output = device.edgeprep(&full).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (output.status.code().unwrap_or(-1), String::from_utf8(output.stdout).unwrap())
}

fn result<'a>(json: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {json}"))
}

fn assert_no_secret(text: &str) {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("tech:{PASSWORD}"));
    for secret in [PASSWORD_RAW, PASSWORD, basic.as_str(), "registry-secret", "c2VjcmV0LXNhcy1rZXk"] {
        assert!(!text.contains(secret), "{secret} shown in\n{text}");
    }
}

#[test]
fn websocket_protocols_connect_to_the_hub_on_443_through_the_proxy_with_its_credentials() {
    for protocol in ["AmqpWs", "MqttWs"] {
        let proxy = TestProxy::start(&[]);
        let device = device_behind(&proxy_url(proxy.port), MANUAL, protocol);
        let (code, out) = run(&device, &["--network", "--json", "--skip", "production-certificates"]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(
            proxy.targets(),
            [
                "CONNECT contoso.azurecr.io:443 HTTP/1.1",
                "CONNECT h.azure-devices.net:443 HTTP/1.1",
                "CONNECT mcr.microsoft.com:443 HTTP/1.1",
            ],
            "{protocol}"
        );
        let expected = base64::engine::general_purpose::STANDARD.encode(format!("tech:{PASSWORD}"));
        for seen in proxy.seen() {
            assert_eq!(seen.authorization.as_deref(), Some(format!("Basic {expected}").as_str()), "{seen:?}");
            assert_eq!(seen.host.as_deref(), seen.request_line.split(' ').nth(1), "{seen:?}");
        }
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        let hub = result(&json, "network-iot-hub");
        assert_eq!(hub["status"], "ok");
        let detail = hub["details"][0].as_str().unwrap();
        assert!(
            detail.starts_with(&format!(
                "h.azure-devices.net:443 (IoT Hub over {protocol}) via proxy http://tech:********@127.0.0.1:{} ([agent.env] https_proxy) at 127.0.0.1:{}: CONNECT answered 200 in ",
                proxy.port, proxy.port
            )),
            "{detail}"
        );
        assert_eq!(result(&json, "network-dps")["status"], "skipped");
        assert_no_secret(&out);
    }
}

#[test]
fn raw_protocols_reach_the_hub_directly_even_with_a_proxy_set() {
    // The hub is 127.0.0.1, so the direct connection stays on this machine; whether something
    // listens on 5671 here does not matter to what is asserted.
    let proxy = TestProxy::start(&[]);
    let manual = MANUAL.replace("h.azure-devices.net", "127.0.0.1");
    let device = device_behind(&proxy_url(proxy.port), &manual, "Amqp");
    let (_, out) = run(&device, &["--network", "--only", "network-iot-hub", "network-mcr"]);
    assert_eq!(proxy.targets(), ["CONNECT mcr.microsoft.com:443 HTTP/1.1"]);
    assert!(out.contains("127.0.0.1:5671 (IoT Hub over Amqp) directly"), "{out}");
    assert!(
        out.contains("the proxy carries only HTTPS and WebSocket traffic: Amqp connects directly"),
        "{out}"
    );
    assert_no_secret(&out);
}

#[test]
fn refused_credentials_and_a_refusing_proxy_are_errors_with_their_fix() {
    let proxy = TestProxy::start(&[
        ("contoso.azurecr.io:443", "HTTP/1.1 407 Proxy Authentication Required"),
        ("mcr.microsoft.com:443", "HTTP/1.1 502 Bad Gateway"),
    ]);
    let device = device_behind(&proxy_url(proxy.port), MANUAL, "AmqpWs");
    let (code, out) = run(&device, &["--network", "--skip", "production-certificates"]);
    assert_eq!(code, 1, "{out}");
    for expected in [
        "√ IoT Hub (or the parent device) is reachable on the upstream protocol's port - OK [network-iot-hub]",
        "× the agent image's registry is reachable - Error [network-registry]",
        "the proxy refused the user and password of its URL (407)",
        "fix: answer [proxy] url with a user and password the proxy accepts (http://user:password@host:port) (answers: proxy.url)",
        "× mcr.microsoft.com is reachable on port 443 - Error [network-mcr]",
        "the proxy refused CONNECT mcr.microsoft.com:443: \"HTTP/1.1 502 Bad Gateway\"",
        "fix: ask the proxy's administrator to allow CONNECT to mcr.microsoft.com:443",
        "Network checks\n--------------\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    assert_no_secret(&out);
}

#[test]
fn dps_is_probed_through_identityds_proxy_and_the_hub_is_skipped() {
    let proxy = TestProxy::start(&[]);
    let device = device_behind(&proxy_url(proxy.port), DPS, "AmqpWs");
    let (code, out) = run(&device, &["--network", "--json", "--only", "network-iot-hub", "network-dps"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        proxy.targets().contains(&"CONNECT global.azure-devices-provisioning.net:443 HTTP/1.1".to_string())
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let dps = result(&json, "network-dps");
    assert_eq!(dps["status"], "ok");
    assert!(
        dps["details"][0].as_str().unwrap().contains("(the aziot-identityd unit's https_proxy)"),
        "{dps}"
    );
    let hub = result(&json, "network-iot-hub");
    assert_eq!(hub["status"], "skipped");
    assert!(hub["reason"].as_str().unwrap().contains("assigned at provisioning"), "{hub}");
    assert_no_secret(&out);
}

#[test]
fn a_proxy_that_never_answers_costs_the_timeout_and_is_an_error() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let device = device_behind(&format!("http://127.0.0.1:{port}"), MANUAL, "MqttWs");
    let (code, out) = run(&device, &["--network", "--timeout", "1", "--only", "network-iot-hub"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "at 127.0.0.1:{port}: nothing within 1 s while waiting for the proxy's answer to CONNECT"
        )),
        "{out}"
    );
    assert!(out.contains("fix: make sure the proxy http://127.0.0.1:"), "{out}");
    drop(silent);
}

/// A listener on 127.0.0.1:`port`, or proof that something already listens there.
fn listening_on(port: u16) -> Option<TcpListener> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(listener) => Some(listener),
        Err(e) => {
            assert!(
                TcpStream::connect(("127.0.0.1", port)).is_ok(),
                "127.0.0.1:{port} can neither be bound ({e}) nor connected to"
            );
            eprintln!("127.0.0.1:{port} is taken by another listener, which serves as the hub");
            None
        }
    }
}

#[test]
fn mqtt_without_a_proxy_reaches_the_hub_directly_on_8883() {
    let _hub = listening_on(8883);
    let device = Device::new();
    device.write(
        "/etc/aziot/config.toml",
        format!(
            "hostname = \"edge-01\"\n\n{}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"\n\n[agent.env]\nUpstreamProtocol = \"Mqtt\"\n",
            MANUAL.replace("h.azure-devices.net", "127.0.0.1")
        ),
    );
    let (code, out) = run(&device, &["--network", "--json", "--only", "network-iot-hub", "network-registry"]);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let hub = result(&json, "network-iot-hub");
    assert_eq!(hub["status"], "ok", "{hub}");
    let detail = hub["details"][0].as_str().unwrap();
    assert!(
        detail.starts_with("127.0.0.1:8883 (IoT Hub over Mqtt) directly: reached at 127.0.0.1:8883 in "),
        "{detail}"
    );
    let offline = hub["details"].as_array().unwrap().last().unwrap().as_str().unwrap();
    assert!(offline.contains("reached from this machine rather than from the device"), "{offline}");
    let registry = result(&json, "network-registry");
    assert_eq!(registry["status"], "skipped");
    assert_eq!(registry["reason"], "the agent image comes from mcr.microsoft.com, which network-mcr probes");
}

#[test]
fn without_network_the_network_checks_are_left_out() {
    let proxy = TestProxy::start(&[]);
    let device = device_behind(&proxy_url(proxy.port), MANUAL, "AmqpWs");
    let (_, out) = run(&device, &["--json"]);
    assert!(!out.contains("\"network-"), "{out}");
    assert!(!out.contains("\"section\": \"network\""), "{out}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(proxy.targets().is_empty(), "{:?}", proxy.targets());
}

#[test]
fn naming_a_network_check_in_only_runs_it() {
    let proxy = TestProxy::start(&[]);
    let device = device_behind(&proxy_url(proxy.port), MANUAL, "AmqpWs");
    let (code, out) = run(&device, &["--only", "network-mcr"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("√ mcr.microsoft.com is reachable on port 443 - OK [network-mcr]"), "{out}");
    assert_eq!(proxy.targets(), ["CONNECT mcr.microsoft.com:443 HTTP/1.1"]);
}

#[test]
fn the_demo_device_is_never_probed() {
    let mut cmd = assert_cmd::Command::cargo_bin("edgeprep").unwrap();
    let output = cmd.env("PATH", "").args(["--demo", "check", "--network", "--json"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for id in ["network-iot-hub", "network-dps", "network-registry", "network-mcr"] {
        let r = result(&json, id);
        assert_eq!(r["status"], "skipped", "{r}");
        assert!(r["reason"].as_str().unwrap().contains("makes no network connection"), "{r}");
    }
}

#[test]
fn a_timeout_out_of_range_is_bad_usage() {
    let device = Device::new();
    let output = device.edgeprep(&["check", "--network", "--timeout", "0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// The JSON of a network run with what varies (ports, temp paths, times) made fixed.
fn normalised(out: &str, port: u16, device: &Device) -> String {
    let text = out.replace(&port.to_string(), "PORT").replace(&device.root().display().to_string(), "ROOT");
    let mut result = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find(" in ") {
        let (before, after) = rest.split_at(at + 4);
        result.push_str(before);
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 && after[digits..].starts_with(" ms") {
            result.push('N');
            rest = &after[digits..];
        } else {
            rest = after;
        }
    }
    result.push_str(rest);
    result
}

#[test]
fn network_json_extends_the_check_schema() {
    let proxy = TestProxy::start(&[("mcr.microsoft.com:443", "HTTP/1.1 502 Bad Gateway")]);
    let device = device_behind(&proxy_url(proxy.port), MANUAL, "AmqpWs");
    let (code, out) = run(
        &device,
        &[
            "--network",
            "--json",
            "--only",
            "network-iot-hub",
            "network-dps",
            "network-registry",
            "network-mcr",
        ],
    );
    assert_eq!(code, 1, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["schema"], "edgeprep-check/1");
    insta::assert_snapshot!("check_network_json", normalised(&out, proxy.port, &device));
}
