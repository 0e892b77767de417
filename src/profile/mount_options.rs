//! Mount options in mount(8) syntax, split into the flags mount(2) takes as bits and the data
//! string the filesystem parses.

use crate::profile::model::MountType;

/// Options that map to mount(2) flag bits, valid for every filesystem.
pub const FLAG_OPTIONS: &[&str] = &[
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "dirsync",
    "noatime",
    "atime",
    "nodiratime",
    "diratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
];

/// Options tmpfs reads from the data string (see tmpfs(5)).
pub const TMPFS_OPTIONS: &[&str] = &[
    "size",
    "nr_blocks",
    "nr_inodes",
    "mode",
    "uid",
    "gid",
    "huge",
    "mpol",
];

/// Options of one mount, checked and split.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// Flag options such as `ro` or `nosuid`, in the order written.
    pub flags: Vec<String>,
    /// Filesystem options such as `size=1m`, in the order written.
    pub data: Vec<String>,
}

impl MountOptions {
    pub fn read_only(&self) -> bool {
        self.flags
            .iter()
            .rev()
            .find(|flag| *flag == "ro" || *flag == "rw")
            .is_some_and(|flag| flag == "ro")
    }

    /// Returns the value of a data option such as `size`.
    pub fn data_value(&self, name: &str) -> Option<&str> {
        self.data.iter().rev().find_map(|option| {
            let (key, value) = option.split_once('=')?;
            (key == name).then_some(value)
        })
    }
}

/// A problem with one option: the message and, when there is one, a likely intended option.
#[derive(Debug, PartialEq, Eq)]
pub struct OptionError {
    pub message: String,
    pub suggestion: Option<&'static str>,
}

/// Checks one option for a mount of `mount_type` and adds it to `options`.
pub fn add_option(
    options: &mut MountOptions,
    option: &str,
    mount_type: MountType,
) -> Result<(), OptionError> {
    if FLAG_OPTIONS.contains(&option) {
        options.flags.push(option.to_string());
        return Ok(());
    }
    let (name, value) = option.split_once('=').unwrap_or((option, ""));
    if mount_type == MountType::Bind {
        return Err(OptionError {
            message: format!(
                "`{option}` is not an option of bind mounts, which take only flags such as `ro` or `nosuid`"
            ),
            suggestion: crate::suggest::closest(option, FLAG_OPTIONS.iter().copied()),
        });
    }
    if !TMPFS_OPTIONS.contains(&name) {
        return Err(OptionError {
            message: format!("unknown tmpfs mount option `{option}`"),
            suggestion: crate::suggest::closest(
                name,
                TMPFS_OPTIONS.iter().chain(FLAG_OPTIONS).copied(),
            ),
        });
    }
    check_tmpfs_value(name, value).map_err(|expected| OptionError {
        message: format!("invalid value `{value}` for tmpfs option `{name}`: {expected}"),
        suggestion: None,
    })?;
    options.data.push(option.to_string());
    Ok(())
}

fn check_tmpfs_value(name: &str, value: &str) -> Result<(), &'static str> {
    let valid = match name {
        "size" => is_size(value, true),
        "nr_blocks" | "nr_inodes" => is_size(value, false),
        "mode" => {
            !value.is_empty() && value.len() <= 4 && value.chars().all(|c| ('0'..='7').contains(&c))
        }
        "uid" | "gid" => !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()),
        "huge" => matches!(
            value,
            "never" | "always" | "within_size" | "advise" | "deny" | "force"
        ),
        _ => !value.is_empty(),
    };
    if valid {
        return Ok(());
    }
    Err(match name {
        "size" => "expected a size such as 1m, 64k, 2g or 50%",
        "nr_blocks" | "nr_inodes" => "expected a count such as 1000 or 64k",
        "mode" => "expected an octal mode such as 0755",
        "uid" | "gid" => "expected a numeric id",
        "huge" => "expected never, always, within_size, advise, deny or force",
        _ => "expected a value after `=`",
    })
}

/// Checks a number with an optional k, m, g, t, p or e suffix, or a percentage where allowed.
fn is_size(value: &str, percent_allowed: bool) -> bool {
    let digits = value
        .strip_suffix(|c: char| "kKmMgGtTpPeE".contains(c))
        .or_else(|| percent_allowed.then(|| value.strip_suffix('%')).flatten())
        .unwrap_or(value);
    !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(list: &[&str], mount_type: MountType) -> Result<MountOptions, OptionError> {
        let mut options = MountOptions::default();
        for option in list {
            add_option(&mut options, option, mount_type)?;
        }
        Ok(options)
    }

    #[test]
    fn tmpfs_options_split_into_flags_and_data() {
        let options = parse(&["size=1m", "mode=0755", "nosuid", "ro"], MountType::Tmpfs).unwrap();
        assert_eq!(options.flags, ["nosuid", "ro"]);
        assert_eq!(options.data, ["size=1m", "mode=0755"]);
        assert!(options.read_only());
        assert_eq!(options.data_value("size"), Some("1m"));
    }

    #[test]
    fn bad_values_are_rejected() {
        for bad in ["size=lots", "mode=999", "uid=root", "huge=maybe", "sise=1m"] {
            assert!(parse(&[bad], MountType::Tmpfs).is_err(), "{bad}");
        }
    }

    #[test]
    fn bind_takes_only_flags() {
        assert!(parse(&["ro", "nosuid"], MountType::Bind).is_ok());
        let error = parse(&["size=1m"], MountType::Bind).unwrap_err();
        assert!(error.message.contains("bind"), "{}", error.message);
    }

    #[test]
    fn misspelled_flag_gets_suggestion() {
        let error = parse(&["nosiud"], MountType::Tmpfs).unwrap_err();
        assert_eq!(error.suggestion, Some("nosuid"));
    }
}
