//! `[dns]`: the DNS servers Docker gives containers.

use std::net::IpAddr;

use super::{Findings, quoted};
use crate::answers::Dns;

/// Check `[dns]` alone, as a wizard step does; [`super::validate`] calls this for the file.
pub fn validate_dns(dns: &Dns) -> Findings {
    let mut f = Findings::default();
    check_dns(&mut f, dns);
    f
}

fn check_dns(f: &mut Findings, dns: &Dns) {
    const KEY: &str = "dns.servers";
    if dns.servers.is_empty() {
        f.error(
            KEY,
            Some("[]"),
            "is empty; list at least one DNS server IP address, e.g. [\"10.0.0.2\", \"1.1.1.1\"], or remove [dns]",
        );
    }
    for (item, server) in dns.servers.iter().enumerate() {
        if server.parse::<IpAddr>().is_err() {
            f.error_in_list(
                KEY,
                item,
                format!(
                    "{} is not an IP address; Docker needs DNS servers as IPv4 or IPv6 addresses, e.g. [\"10.0.0.2\", \"1.1.1.1\"]",
                    quoted(server),
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn dns_servers_must_be_ip_addresses() {
        assert_valid(&dns(&["1.1.1.1", "2606:4700:4700::1111"]));
        assert_one_error(&dns(&[]), &["[dns] servers = []"]);
        let e = errors(&dns(&["8.8.8", "dns.google", "8.8.8.8"]));
        assert_eq!(e.len(), 2);
        assert!(e[0].contains("\"8.8.8\" is not an IP address"));
        assert!(e[1].contains("\"dns.google\""));
    }
}
