//! Checks of `[download]`: the mirror URL and the local paths.

use url::Url;

use super::Checker;
use crate::diagnostic::Diagnostic;
use crate::profile::spec::{DEFAULT_MIRROR, DownloadSpec};

impl Checker<'_> {
    pub(super) fn download(
        &mut self,
        download: crate::profile::model::DownloadToml,
    ) -> Option<DownloadSpec> {
        let mirror_text = download
            .mirror
            .unwrap_or_else(|| DEFAULT_MIRROR.to_string());
        let mirror = parse_mirror(&mirror_text).map_err(|problem| {
            let shown = crate::render::mask_passwords(&mirror_text);
            let mut diagnostic = Diagnostic::error(
                self.origin(&["download", "mirror"]),
                format!("invalid mirror URL `{shown}`: {problem}"),
            )
            .with_help(
                "use a URL such as \"https://mirror.example.com\" or \"file:///srv/mirror\"",
            );
            // The source line would show the password the message hides.
            if shown != mirror_text {
                diagnostic = diagnostic.with_hidden_source();
            }
            self.error(diagnostic);
        });
        let cache_dir = download
            .cache_dir
            .map(|dir| self.absolute_path(&["download", "cache_dir"], Some(dir), ""));
        let ca_file = download
            .ca_file
            .map(|file| self.absolute_path(&["download", "ca_file"], Some(file), ""));
        Some(DownloadSpec {
            mirror: mirror.ok()?,
            arch: download
                .arch
                .unwrap_or(crate::profile::model::ArchChoice::Auto),
            cache_dir: cache_dir.map(Option::unwrap_or_default),
            ca_file: ca_file.map(Option::unwrap_or_default),
        })
    }
}

/// Parses a mirror URL and drops any trailing slash, so release paths can be appended.
pub fn parse_mirror(text: &str) -> Result<Url, String> {
    // The URL parser silently drops tabs and newlines; a URL that has them is a mistake.
    if text.chars().any(char::is_control) {
        return Err("the URL contains a control character such as a newline".into());
    }
    let url = Url::parse(text.trim_end_matches('/')).map_err(|error| error.to_string())?;
    if url.scheme() == "file"
        && url
            .host_str()
            .is_some_and(|host| !host.is_empty() && host != "localhost")
    {
        return Err(format!(
            "a file:// URL names a local directory, but this one names the host `{}`; write file:///path with three slashes",
            url.host_str().unwrap_or_default()
        ));
    }
    if !matches!(url.scheme(), "https" | "http" | "file") {
        return Err(format!(
            "the scheme `{}` is not supported; use https, http or file",
            url.scheme()
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a mirror URL cannot have a query or a fragment".into());
    }
    if url.cannot_be_a_base() {
        return Err("the URL cannot have paths appended to it".into());
    }
    Ok(url)
}
