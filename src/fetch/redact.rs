//! URLs made safe to print: a password in a URL never reaches a message or a log line.

use std::fmt;

use url::Url;

/// A URL that displays without its password, for errors and logs.
///
/// The user name stays, so the reader can still tell which account was used. Query strings are
/// kept as they are: a signed redirect URL stays printable, and its signature expires on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayUrl(Box<str>);

impl DisplayUrl {
    pub fn new(url: &Url) -> DisplayUrl {
        let mut url = url.clone();
        if url.password().is_some() {
            // Only URLs that cannot have credentials reject this, and those have no password.
            let _ = url.set_password(Some("****"));
        }
        DisplayUrl(url.as_str().into())
    }
}

impl fmt::Display for DisplayUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl From<&Url> for DisplayUrl {
    fn from(url: &Url) -> DisplayUrl {
        DisplayUrl::new(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_masked() {
        let url = Url::parse("https://user:secret@mirror.example/k3s").unwrap();
        let shown = DisplayUrl::new(&url).to_string();
        assert_eq!(shown, "https://user:****@mirror.example/k3s");
    }

    #[test]
    fn url_without_password_is_unchanged() {
        let url = Url::parse("https://mirror.example/a%2Bb?x=1").unwrap();
        assert_eq!(DisplayUrl::new(&url).to_string(), url.as_str());
    }
}
