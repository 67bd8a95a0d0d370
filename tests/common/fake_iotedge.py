# A fake `iotedge` for edgeprep's tests: it records its command line like the other fakes and,
# for `iotedge config apply`, rejects what IoT Edge 1.4 would reject (parsed the way
# `iotedge config apply` parses: UTF-8, TOML, then the super-config rules of
# /work/shared/reference/iotedge-1.4.md §1.1-1.11), so a test fails when edgeprep writes a
# config.toml a real device would refuse.
#
# It is stricter than IoT Edge in one way: keys IoT Edge would silently ignore (unknown
# top-level keys, top-level keys that landed inside a table) are errors here, because on a
# device they are a setting that quietly does nothing.
#
# The path edgeprep names is a device path; the file is read under EDGEPREP_TEST_ROOT.
# Placeholders filled in by tests/common/mod.rs: CALLS_LOG.
import base64
import os
import re
import sys
import tomllib

CALLS_LOG = "@CALLS_LOG@"

TOP_LEVEL_SCALARS = {
    "hostname": str,
    "parent_hostname": str,
    "local_gateway_hostname": str,
    "trust_bundle_cert": str,
    "allow_elevated_docker_permissions": bool,
    "auto_reprovisioning_mode": str,
    "prefer_module_identity_cache": bool,
    "cloud_timeout_sec": int,
    "cloud_retries": int,
    "additional_info": str,
    "imported_master_encryption_key": str,
}
TOP_LEVEL_TABLES = {
    "provisioning", "agent", "connect", "listen", "watchdog", "edge_ca", "cert_issuance",
    "aziot_keys", "preloaded_keys", "preloaded_certs", "tpm", "image_garbage_collection",
    "moby_runtime", "aziot_max_requests", "iotedge_max_requests", "localid",
}
# Tables whose keys are free-form (maps), where a key named like a top-level one is legitimate.
FREE_FORM = {("agent", "env"), ("aziot_keys",), ("preloaded_keys",), ("preloaded_certs",)}


class Rejected(Exception):
    pass


def type_name(value):
    return {str: "a string", bool: "a boolean", int: "an integer", dict: "a table", list: "an array"}.get(
        type(value), type(value).__name__
    )


def expect(value, kind, where):
    # bool is an int in Python; TOML keeps them apart.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Rejected(f"invalid type: {type_name(value)}, expected {type_name(kind())} for key `{where}`")


def required(table, key, where):
    if key not in table:
        raise Rejected(f"missing field `{key}` in {where}")
    return table[key]


def untagged(enum):
    raise Rejected(f"data did not match any variant of untagged enum {enum}")


def check_connection_string(text):
    parts = {}
    for piece in text.split(";"):
        if "=" in piece:
            key, value = piece.split("=", 1)
            parts[key] = value
    for key in ("HostName", "DeviceId", "SharedAccessKey"):
        if key not in parts:
            raise Rejected(f'connection string is invalid: required parameter "{key}" is missing')
    key = parts["SharedAccessKey"]
    try:
        base64.b64decode(key + "=" * (-len(key) % 4), validate=True)
    except ValueError as e:
        raise Rejected(
            f'connection string is invalid: connection string\'s "SharedAccessKey" parameter could not be decoded from base64: {e}'
        )


def check_provisioning(p):
    expect(p, dict, "provisioning")
    source = required(p, "source", "[provisioning]")
    if source not in ("manual", "dps", "none"):
        raise Rejected(f"unknown variant `{source}`, expected one of `manual`, `dps`, `none`")
    if source == "manual":
        if "connection_string" in p:
            expect(p["connection_string"], str, "provisioning.connection_string")
            check_connection_string(p["connection_string"])
        elif "iothub_hostname" in p and "device_id" in p and isinstance(p.get("authentication"), dict):
            method = required(p["authentication"], "method", "[provisioning.authentication]")
            if method not in ("sas", "x509"):
                untagged("ManualAuthMethod")
        else:
            untagged("ManualProvisioning")
    elif source == "dps":
        required(p, "global_endpoint", "[provisioning]")
        required(p, "id_scope", "[provisioning]")
        attestation = required(p, "attestation", "[provisioning]")
        expect(attestation, dict, "provisioning.attestation")
        method = required(attestation, "method", "[provisioning.attestation]")
        if method == "symmetric_key":
            required(attestation, "registration_id", "[provisioning.attestation]")
            required(attestation, "symmetric_key", "[provisioning.attestation]")
        elif method == "tpm":
            required(attestation, "registration_id", "[provisioning.attestation]")
        elif method == "x509":
            required(attestation, "identity_cert", "[provisioning.attestation]")
            required(attestation, "identity_pk", "[provisioning.attestation]")
        else:
            raise Rejected(f"unknown variant `{method}`, expected one of `symmetric_key`, `x509`, `tpm`")


def check_agent(agent):
    expect(agent, dict, "agent")
    name = required(agent, "name", "[agent]")
    if name == "":
        raise Rejected("agent name cannot be empty")
    if required(agent, "type", "[agent]") != "docker":
        raise Rejected('agent type must be "docker"')
    config = required(agent, "config", "[agent]")
    expect(config, dict, "agent.config")
    if required(config, "image", "[agent.config]") == "":
        raise Rejected("image cannot be empty")
    if agent.get("imagePullPolicy", "on-create") not in ("on-create", "never"):
        raise Rejected("unknown variant for imagePullPolicy, expected `on-create` or `never`")
    for key, value in agent.get("env", {}).items():
        expect(value, str, f"agent.env.{key}")


def check_auto_renew(renew, where):
    for key in ("rotate_key", "threshold", "retry"):
        required(renew, key, where)
    for key in ("threshold", "retry"):
        if not re.fullmatch(r"[1-9][0-9]*(%|min|day)", str(renew[key])):
            raise Rejected(f"invalid {key} in {where}: bad units for policy")


def check_edge_ca(ca):
    expect(ca, dict, "edge_ca")
    if "method" in ca:
        if ca["method"] not in ("est", "local_ca", "self_signed"):
            untagged("EdgeCa")
        if ca.get("expiry_days", 1) == 0:
            raise Rejected("expiry_days must be greater than 0")
    elif "cert" in ca or "pk" in ca:
        if not ("cert" in ca and "pk" in ca):
            untagged("EdgeCa")
    elif "auto_generated_edge_ca_expiry_days" not in ca:
        untagged("EdgeCa")
    if "auto_renew" in ca:
        check_auto_renew(ca["auto_renew"], "[edge_ca.auto_renew]")


DURATION = re.compile(r"\s*([0-9]+)\s*([a-zA-Z]+)")
UNIT_SECONDS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "M": 2630016, "month": 2630016, "months": 2630016,
    "y": 31557600, "year": 31557600, "years": 31557600,
}


def seconds(text, key):
    expect(text, str, f"image_garbage_collection.{key}")
    total, pos = 0, 0
    for match in DURATION.finditer(text):
        if match.start() != pos or match.group(2) not in UNIT_SECONDS:
            break
        total += int(match.group(1)) * UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise Rejected(f"invalid value: string {text!r}, expected a duration for `{key}`")
    return total


def check_image_gc(gc):
    expect(gc, dict, "image_garbage_collection")
    if "enabled" in gc:
        expect(gc["enabled"], bool, "image_garbage_collection.enabled")
    if "cleanup_recurrence" in gc:
        recurrence = seconds(gc["cleanup_recurrence"], "cleanup_recurrence")
        if recurrence == 0 or recurrence % 86400:
            raise Rejected(f"invalid value: {recurrence}s, expected duration that is a multiple of days")
    if "image_age_cleanup_threshold" in gc:
        seconds(gc["image_age_cleanup_threshold"], "image_age_cleanup_threshold")
    if "cleanup_time" in gc:
        expect(gc["cleanup_time"], str, "image_garbage_collection.cleanup_time")
        match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", gc["cleanup_time"])
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise Rejected(f"invalid cleanup_time {gc['cleanup_time']!r}: expected HH:MM")


def misplaced_top_level_keys(table, path):
    """Top-level keys found inside a table: written after a table header by mistake."""
    if tuple(path) in FREE_FORM:
        return
    for key, value in table.items():
        if path and key in TOP_LEVEL_SCALARS:
            yield ".".join(path), key
        if isinstance(value, dict):
            yield from misplaced_top_level_keys(value, path + [key])


def check(config):
    for key, value in config.items():
        if key in TOP_LEVEL_SCALARS:
            expect(value, TOP_LEVEL_SCALARS[key], key)
        elif key not in TOP_LEVEL_TABLES:
            raise Rejected(f"(fake iotedge) unknown top-level key `{key}`: IoT Edge would silently ignore it")
    for table, key in misplaced_top_level_keys(config, []):
        raise Rejected(
            f"(fake iotedge) top-level key `{key}` is inside [{table}]: IoT Edge would ignore it there; "
            "top-level keys must come before the first table"
        )
    mode = config.get("auto_reprovisioning_mode", "Dynamic")
    if mode not in ("Dynamic", "AlwaysOnStartup", "OnErrorOnly"):
        raise Rejected(f"unknown variant `{mode}`, expected one of `Dynamic`, `AlwaysOnStartup`, `OnErrorOnly`")
    if config.get("cloud_timeout_sec", 70) < 70:
        raise Rejected("cloud_timeout_sec must be at least 70 seconds")
    check_provisioning(required(config, "provisioning", "the config file"))
    if "parent_hostname" in config and config["provisioning"]["source"] == "dps":
        raise Rejected("DPS provisioning is not supported in nested mode")
    if "agent" in config:
        check_agent(config["agent"])
    if "edge_ca" in config:
        check_edge_ca(config["edge_ca"])
    if "image_garbage_collection" in config:
        check_image_gc(config["image_garbage_collection"])
    moby = config.get("moby_runtime", {})
    expect(moby, dict, "moby_runtime")
    if "uri" in moby and not str(moby["uri"]).startswith("unix://"):
        raise Rejected(f"invalid moby_runtime uri {moby['uri']!r}")


def in_root(root, device_path):
    """The host path of `device_path` with every symlink resolved as on the device (a chroot at
    `root`): absolute link texts start again at the root, `..` stops at it."""
    pending = [c for c in device_path.split("/") if c]
    parts = []
    hops = 0
    while pending:
        name = pending.pop(0)
        if name == ".":
            continue
        if name == "..":
            if parts:
                parts.pop()
            continue
        here = os.path.join(root, *parts, name)
        if os.path.islink(here):
            hops += 1
            if hops > 40:
                break
            text = os.readlink(here)
            if text.startswith("/"):
                parts = []
            pending = [c for c in text.split("/") if c] + pending
            continue
        parts.append(name)
    return os.path.join(root, *parts)


def config_apply(args):
    device_path = "/etc/aziot/config.toml"
    for i, arg in enumerate(args):
        if arg in ("-c", "--config-file") and i + 1 < len(args):
            device_path = args[i + 1]
        elif arg.startswith("--config-file="):
            device_path = arg.split("=", 1)[1]
    root = os.environ.get("EDGEPREP_TEST_ROOT")
    if not root:
        print("fake iotedge: EDGEPREP_TEST_ROOT is not set, refusing to read this machine's files", file=sys.stderr)
        return 1
    path = in_root(root, device_path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        print(f"Command failed: could not read config file {device_path}: {e.strerror} (os error {e.errno})", file=sys.stderr)
        return 1
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        print(f"Command failed: error parsing config: {e}", file=sys.stderr)
        return 1
    try:
        config = tomllib.loads(text)
        check(config)
    except (tomllib.TOMLDecodeError, Rejected) as e:
        print(f"Command failed: could not parse config file: {e}", file=sys.stderr)
        return 1
    print("Azure IoT Edge has been configured successfully!")
    print("Restarting service for configuration to take effect...")
    print("Done.")
    return 0


def main():
    args = sys.argv[1:]
    with open(CALLS_LOG, "a") as log:
        log.write("iotedge " + " ".join(args) + "\n")
    if args[:2] == ["config", "apply"]:
        return config_apply(args[2:])
    return 0


sys.exit(main())
