//! Did-you-mean suggestions for misspelled names.

/// Returns the candidate closest to `input`, when it is close enough to be a typo of it.
///
/// Closeness is the Jaro-Winkler similarity, which favours a shared prefix; 0.8 accepts one or two
/// wrong letters in names of the length k3s flags have and rejects unrelated words.
pub(crate) fn closest<'a>(
    input: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|candidate| (strsim::jaro_winkler(input, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn closest_picks_best_match() {
        let names = ["tmpfs", "bind"];
        assert_eq!(closest("tmpf", names.into_iter()), Some("tmpfs"));
        assert_eq!(closest("overlay", names.into_iter()), None);
    }
}
