//! Proxy selection from the environment, read the way curl reads it.
//!
//! - `https://` URLs use `https_proxy`, then `HTTPS_PROXY`.
//! - `http://` URLs use `http_proxy`, then `HTTP_PROXY`. curl ignores the upper-case form because
//!   a CGI program receives a request's `Proxy:` header as `HTTP_PROXY`. k3sprov is no CGI
//!   program, and Docker and systemd setups often set only the upper-case form, so it is honoured
//!   after the lower-case one.
//! - `all_proxy`, then `ALL_PROXY`, apply to both schemes when the scheme's own variable is unset.
//! - An empty variable counts as unset.
//! - `no_proxy`, then `NO_PROXY`, list hosts reached directly (see [`NoProxy`]).
//!
//! ureq reads these variables too, but differently: one proxy for every scheme, no trimming and
//! no CIDR ranges in `NO_PROXY`. So the selection happens here, and the HTTP client gives ureq an
//! explicit proxy (or none) for each request.

use std::net::IpAddr;

use url::{Host, Url};

use crate::fetch::redact::DisplayUrl;

/// The proxy variables of an environment, injected so that selection stays a pure function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// Each variable's name and value, in the order they are consulted.
    https: Vec<(&'static str, String)>,
    http: Vec<(&'static str, String)>,
    all: Vec<(&'static str, String)>,
    no_proxy: Option<String>,
}

const HTTPS_VARIABLES: [&str; 2] = ["https_proxy", "HTTPS_PROXY"];
const HTTP_VARIABLES: [&str; 2] = ["http_proxy", "HTTP_PROXY"];
const ALL_VARIABLES: [&str; 2] = ["all_proxy", "ALL_PROXY"];
const NO_PROXY_VARIABLES: [&str; 2] = ["no_proxy", "NO_PROXY"];

impl ProxyEnv {
    /// Reads the proxy variables of this process's environment.
    pub fn from_process() -> ProxyEnv {
        ProxyEnv::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the proxy variables through `lookup`, which returns a variable's value by name.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> ProxyEnv {
        let collect = |names: [&'static str; 2]| {
            names
                .into_iter()
                .filter_map(|name| {
                    let value = lookup(name)?;
                    (!value.trim().is_empty()).then(|| (name, value.trim().to_owned()))
                })
                .collect()
        };
        ProxyEnv {
            https: collect(HTTPS_VARIABLES),
            http: collect(HTTP_VARIABLES),
            all: collect(ALL_VARIABLES),
            no_proxy: NO_PROXY_VARIABLES
                .into_iter()
                .find_map(|name| lookup(name).filter(|value| !value.trim().is_empty())),
        }
    }
}

/// The proxy chosen for one URL, and the variable it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectedProxy {
    pub variable: &'static str,
    /// The proxy's URL with its scheme and port filled in: `http` and 1080 when absent, as curl
    /// fills them.
    pub url: Url,
}

/// A proxy variable whose value is not a usable proxy URL.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("the proxy in {variable} is not a valid URL; write it as http://HOST:PORT")]
    Invalid { variable: &'static str },
    #[error(
        "the proxy {url} in {variable} uses the scheme `{scheme}`; k3sprov supports http:// and https:// proxies"
    )]
    UnsupportedScheme {
        variable: &'static str,
        url: DisplayUrl,
        scheme: String,
    },
}

/// Chooses the proxy for `url`, or `None` for a direct connection.
///
/// URLs other than `http` and `https` (such as `file`) never use a proxy.
pub fn select_proxy(url: &Url, env: &ProxyEnv) -> Result<Option<SelectedProxy>, ProxyError> {
    let scheme_variables = match url.scheme() {
        "https" => &env.https,
        "http" => &env.http,
        _ => return Ok(None),
    };
    let Some((variable, value)) = scheme_variables.first().or_else(|| env.all.first()) else {
        return Ok(None);
    };
    if let Some(no_proxy) = &env.no_proxy
        && NoProxy::parse(no_proxy).matches(url)
    {
        return Ok(None);
    }
    parse_proxy_url(variable, value).map(Some)
}

fn parse_proxy_url(variable: &'static str, value: &str) -> Result<SelectedProxy, ProxyError> {
    let text = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let mut url = Url::parse(&text).map_err(|_| ProxyError::Invalid { variable })?;
    if url.host().is_none() {
        return Err(ProxyError::Invalid { variable });
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ProxyError::UnsupportedScheme {
            variable,
            url: DisplayUrl::new(&url),
            scheme: url.scheme().to_owned(),
        });
    }
    if url.scheme() == "http" && explicit_port(&text).is_none() {
        // curl's default port for an HTTP proxy.
        url.set_port(Some(1080))
            .map_err(|()| ProxyError::Invalid { variable })?;
    }
    Ok(SelectedProxy { variable, url })
}

/// Returns the port written in a URL, even the scheme's default one, which `Url::port` hides.
fn explicit_port(text: &str) -> Option<u16> {
    let (_, rest) = text.split_once("://")?;
    Url::parse(&format!("opaque://{rest}")).ok()?.port()
}

/// A parsed `NO_PROXY` list.
///
/// Entries are separated by commas, trimmed and lower-cased:
/// - `*` matches every host;
/// - a domain (`example.com`, `.example.com` or `*.example.com`) matches itself and its
///   subdomains, and a trailing dot on either side is ignored;
/// - an IP address matches that address, and a CIDR range (`10.0.0.0/8`, `::1/128`) matches the
///   addresses in it. Domain names are not resolved, so a range never matches a name;
/// - an optional `:port` (`example.com:8443`, `[::1]:8080`) restricts an entry to URLs with that
///   port, counting the scheme's default port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    pattern: Pattern,
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    Everything,
    Domain(String),
    Address(IpAddr),
    Range { network: IpAddr, prefix: u8 },
}

impl NoProxy {
    /// Parses a `NO_PROXY` value. Entries that are neither a name, an address nor a range are
    /// skipped, as curl skips them.
    pub fn parse(value: &str) -> NoProxy {
        let entries = value
            .split(',')
            .map(|entry| entry.trim().to_ascii_lowercase())
            .filter(|entry| !entry.is_empty())
            .filter_map(|entry| parse_entry(&entry))
            .collect();
        NoProxy { entries }
    }

    /// Tells whether `url` is to be reached without a proxy.
    pub fn matches(&self, url: &Url) -> bool {
        let Some(host) = url.host() else {
            return false;
        };
        let port = url.port_or_known_default();
        self.entries.iter().any(|entry| {
            entry.port.is_none_or(|wanted| Some(wanted) == port) && entry.pattern.matches(&host)
        })
    }
}

fn parse_entry(entry: &str) -> Option<Entry> {
    if entry == "*" {
        return Some(Entry {
            pattern: Pattern::Everything,
            port: None,
        });
    }
    let (body, port) = split_port(entry);
    let pattern = if let Some((address, prefix)) = body.split_once('/') {
        let network: IpAddr = address.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        if prefix > bits {
            return None;
        }
        Pattern::Range { network, prefix }
    } else if let Ok(address) = body.parse::<IpAddr>() {
        Pattern::Address(address)
    } else {
        let domain = body.trim_start_matches("*.").trim_start_matches('.');
        let domain = domain.trim_end_matches('.');
        if domain.is_empty() || domain.contains(['/', '*', '[', ']', ':']) {
            return None;
        }
        Pattern::Domain(domain.to_owned())
    };
    Some(Entry { pattern, port })
}

/// Splits an optional `:port` off an entry. A bare IPv6 address keeps its colons; a port after
/// one needs brackets (`[::1]:8080`).
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        if let Some((address, tail)) = rest.split_once(']') {
            let port = tail.strip_prefix(':').and_then(|port| port.parse().ok());
            return (address, port);
        }
        return (entry, None);
    }
    if entry.matches(':').count() == 1
        && let Some((body, port)) = entry.rsplit_once(':')
        && let Ok(port) = port.parse()
    {
        return (body, Some(port));
    }
    (entry, None)
}

impl Pattern {
    fn matches(&self, host: &Host<&str>) -> bool {
        match (self, host) {
            (Pattern::Everything, _) => true,
            (Pattern::Domain(domain), Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == *domain
                    || name
                        .strip_suffix(domain.as_str())
                        .is_some_and(|head| head.ends_with('.'))
            }
            (Pattern::Address(address), _) => host_address(host) == Some(*address),
            (Pattern::Range { network, prefix }, _) => {
                host_address(host).is_some_and(|address| in_range(address, *network, *prefix))
            }
            (Pattern::Domain(_), _) => false,
        }
    }
}

fn host_address(host: &Host<&str>) -> Option<IpAddr> {
    match host {
        Host::Ipv4(address) => Some(IpAddr::V4(*address)),
        Host::Ipv6(address) => Some(IpAddr::V6(*address)),
        Host::Domain(_) => None,
    }
}

fn in_range(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(address), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(address) & mask == u32::from(network) & mask
        }
        (IpAddr::V6(address), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(address) & mask == u128::from(network) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
