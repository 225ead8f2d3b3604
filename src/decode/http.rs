//! The first bytes of cleartext HTTP on ports 80 and 8080, segment by
//! segment, without reassembly: a segment that starts a request gives its
//! path and User-Agent, one that starts a response its status code. What
//! is looked for is in data files (`data/web-probe-paths.txt`,
//! `data/scanner-agents.txt`), compiled in; only the segment's own bytes
//! are read, so the work per segment is bounded by the snap length.

use std::sync::LazyLock;

use crate::event::{HttpRequest, Kind};

/// Ports whose cleartext HTTP is read.
#[inline]
pub fn is_http_port(port: u16) -> bool {
    port == 80 || port == 8080
}

/// The lists, from the data files: each entry lower-cased for matching,
/// beside it as written (for rows).
pub struct Lists {
    pub paths: Vec<String>,
    pub agents: Vec<String>,
    pub path_names: Vec<&'static str>,
    pub agent_names: Vec<&'static str>,
    /// The tool each agent names (`= name` in the file, else the agent).
    pub agent_tools: Vec<String>,
}

fn entries(text: &'static str, most: usize) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .take(most)
        .collect()
}

fn lower(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_ascii_lowercase()).collect()
}

pub static LISTS: LazyLock<Lists> = LazyLock::new(|| {
    let path_names = entries(include_str!("../../data/web-probe-paths.txt"), 255);
    let agent_lines = entries(include_str!("../../data/scanner-agents.txt"), 255);
    let agent_names: Vec<&'static str> = agent_lines
        .iter()
        .map(|l| l.split('=').next().unwrap_or(l).trim())
        .collect();
    let agent_tools = agent_lines
        .iter()
        .zip(&agent_names)
        .map(|(l, name)| {
            l.split_once('=')
                .map_or(*name, |(_, t)| t.trim())
                .to_ascii_lowercase()
        })
        .collect();
    Lists {
        paths: lower(&path_names),
        agents: lower(&agent_names),
        path_names,
        agent_names,
        agent_tools,
    }
});

const METHODS: &[&[u8]] = &[
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"TRACE ",
    b"PROPFIND ",
];

/// What a TCP segment's payload from `sport` to `dport` says, if it
/// starts an HTTP request (to an HTTP port) or response (from one).
#[inline]
pub fn classify(payload: &[u8], sport: u16, dport: u16) -> Option<Kind> {
    if is_http_port(dport) && payload.len() >= 5 && payload[0].is_ascii_uppercase() {
        let method = METHODS.iter().find(|m| payload.starts_with(m))?;
        return Some(Kind::HttpRequest(request(&payload[method.len()..])));
    }
    if is_http_port(sport) && payload.starts_with(b"HTTP/1.") {
        let code = payload.get(9..12)?;
        if payload.get(8) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        return Some(Kind::HttpStatus(status));
    }
    None
}

/// The request after its method: which listed path (1-based; 0 none) and
/// which listed agent (1-based; 0 none).
fn request(rest: &[u8]) -> HttpRequest {
    let lists = &*LISTS;
    let target = rest
        .split(|&b| b == b' ' || b == b'\r')
        .next()
        .unwrap_or(&[]);
    // The absolute form (a proxy request): the path starts after the host.
    let path = match strip_prefix_ci(target, b"http://") {
        Some(after) => after
            .iter()
            .position(|&b| b == b'/')
            .map_or(&[][..], |i| &after[i..]),
        None => target,
    };
    let path_index = lists
        .paths
        .iter()
        .position(|p| strip_prefix_ci(path, p.as_bytes()).is_some())
        .map_or(0, |i| i as u8 + 1);
    let agent_index = user_agent(rest)
        .and_then(|ua| {
            lists
                .agents
                .iter()
                .position(|a| contains_ci(ua, a.as_bytes()))
        })
        .map_or(0, |i| i as u8 + 1);
    HttpRequest {
        path: path_index,
        agent: agent_index,
    }
}

/// The User-Agent header's value among the headers in `head`.
fn user_agent(head: &[u8]) -> Option<&[u8]> {
    let mut rest = head;
    while let Some(i) = rest.iter().position(|&b| b == b'\n') {
        rest = &rest[i + 1..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            return None;
        }
        if let Some(value) = strip_prefix_ci(rest, b"user-agent:") {
            let end = value
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(value.len());
            return Some(&value[..end]);
        }
    }
    None
}

/// `s` without `prefix` (lowercase), compared case-insensitively.
fn strip_prefix_ci<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Whether `s` holds `needle` (lowercase), compared case-insensitively.
fn contains_ci(s: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && s.windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(bytes: &[u8]) -> Option<(Option<&'static str>, Option<&'static str>)> {
        match classify(bytes, 40000, 80)? {
            Kind::HttpRequest(r) => {
                let l = &*LISTS;
                let name =
                    |i: u8, v: &'static Vec<&'static str>| (i > 0).then(|| v[i as usize - 1]);
                Some((name(r.path, &l.path_names), name(r.agent, &l.agent_names)))
            }
            _ => None,
        }
    }

    #[test]
    fn requests_name_listed_paths_and_scanner_agents() {
        let nikto = b"GET /.env HTTP/1.1\r\nHost: x\r\nUser-Agent: Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)\r\n\r\n";
        assert_eq!(req(nikto), Some((Some("/.env"), Some("Nikto"))));
        let nse = b"GET /phpMyAdmin/ HTTP/1.1\r\nuser-agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)\r\n\r\n";
        assert_eq!(
            req(nse),
            Some((Some("/phpmyadmin/"), Some("Nmap Scripting Engine")))
        );
        let proxy = b"HEAD http://example.test/.git/config HTTP/1.0\r\n\r\n";
        assert_eq!(req(proxy), Some((Some("/.git/"), None)));
        let browser =
            b"GET /index.html HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\r\n";
        assert_eq!(req(browser), Some((None, None)));
        // A User-Agent in the body, after the headers, is not one.
        let body = b"POST /form HTTP/1.1\r\nHost: x\r\n\r\nUser-Agent: sqlmap\r\n";
        assert_eq!(req(body), Some((None, None)));
        // Not a request: a method without its space, lower case, too short.
        for not in [&b"GETX / HTTP/1.1"[..], b"get / HTTP/1.1", b"GET", b""] {
            assert_eq!(classify(not, 40000, 80), None, "{not:?}");
        }
        // Not to an HTTP port.
        assert_eq!(classify(nikto, 40000, 443), None);
    }

    #[test]
    fn responses_give_their_status() {
        let r = |b: &[u8]| classify(b, 80, 40000);
        assert_eq!(
            r(b"HTTP/1.1 404 Not Found\r\n"),
            Some(Kind::HttpStatus(404))
        );
        assert_eq!(r(b"HTTP/1.0 200 OK\r\n"), Some(Kind::HttpStatus(200)));
        for not in [
            &b"HTTP/1.1 4x4 Bad"[..],
            b"HTTP/1.1 40",
            b"HTTP/2 200",
            b"HTTP/1.1404 x",
        ] {
            assert_eq!(r(not), None, "{not:?}");
        }
        assert_eq!(classify(b"HTTP/1.1 404 Not Found\r\n", 40000, 443), None);
    }

    #[test]
    fn every_listed_entry_is_lower_case_and_within_the_index() {
        let l = &*LISTS;
        assert!(l.paths.len() >= 30 && l.paths.len() <= 255);
        assert!(l.agents.len() >= 10 && l.agents.len() <= 255);
        assert!(l.paths.iter().all(|p| p.starts_with('/')));
        let tool =
            |a: &str| l.agent_tools[l.agent_names.iter().position(|n| *n == a).unwrap()].as_str();
        assert_eq!(tool("Nmap Scripting Engine"), "nmap");
        assert_eq!(tool("Nikto"), "nikto");
    }
}
