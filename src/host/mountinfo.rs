//! The mount table of this process, from `/proc/self/mountinfo` (see proc(5)).

use std::path::{Path, PathBuf};

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    /// The directory of the filesystem that is mounted, relative to the filesystem's root;
    /// for a bind mount of `/dev/null` this is `/null`.
    pub root: String,
    pub mount_point: PathBuf,
    /// Per-mount options such as `rw,nosuid,relatime`.
    pub mount_options: Vec<String>,
    pub fs_type: String,
    pub source: String,
    /// Per-superblock options such as `rw,size=1024k,mode=755`.
    pub super_options: Vec<String>,
}

impl MountEntry {
    pub fn read_only(&self) -> bool {
        self.mount_options.iter().any(|option| option == "ro")
    }

    /// Returns the value of a superblock option such as `size`.
    pub fn super_option(&self, name: &str) -> Option<&str> {
        self.super_options.iter().find_map(|option| {
            let (key, value) = option.split_once('=')?;
            (key == name).then_some(value)
        })
    }
}

/// Reads the mount table of this process.
pub fn read() -> std::io::Result<Vec<MountEntry>> {
    let text = fs_err::read_to_string("/proc/self/mountinfo")?;
    Ok(parse(&text))
}

/// Parses mountinfo text, skipping lines that do not have its shape.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    let separator = fields.iter().position(|field| *field == "-")?;
    if separator < 6 || fields.len() < separator + 3 {
        return None;
    }
    let split = |options: &str| options.split(',').map(String::from).collect();
    Some(MountEntry {
        root: unescape(fields[3]),
        mount_point: PathBuf::from(unescape(fields[4])),
        mount_options: split(fields[5]),
        fs_type: fields[separator + 1].to_string(),
        source: unescape(fields[separator + 2]),
        super_options: fields
            .get(separator + 3)
            .map_or_else(Vec::new, |options| split(options)),
    })
}

/// Decodes the octal escapes (`\040` for a space) the kernel writes for special characters.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = bytes.get(index + 1..index + 4).filter(|digits| {
            bytes[index] == b'\\' && digits.iter().all(|digit| (b'0'..=b'7').contains(digit))
        });
        if let Some(digits) = escaped {
            let value = digits
                .iter()
                .fold(0u32, |acc, digit| acc * 8 + u32::from(digit - b'0'));
            out.push(u8::try_from(value).unwrap_or(b'?'));
            index += 4;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Returns the mount that is visible at `path`: the last one mounted exactly there.
pub fn mounted_at<'a>(table: &'a [MountEntry], path: &Path) -> Option<&'a MountEntry> {
    table.iter().rev().find(|entry| entry.mount_point == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:5 /null /dev/kmsg rw,nosuid - devtmpfs udev rw,size=4k,mode=755
31 22 0:40 / /tmp/a\\040b rw,nosuid,nodev - tmpfs tmpfs rw,size=1024k,mode=755
32 22 0:41 / /tmp/a\\040b ro - tmpfs none ro,size=2048k
";

    #[test]
    fn parse_reads_fields_and_escapes() {
        let table = parse(SAMPLE);
        assert_eq!(table.len(), 4);
        assert_eq!(table[1].root, "/null");
        assert_eq!(table[1].fs_type, "devtmpfs");
        assert_eq!(table[2].mount_point, Path::new("/tmp/a b"));
        assert_eq!(table[2].super_option("size"), Some("1024k"));
    }

    #[test]
    fn last_mount_at_a_path_is_visible() {
        let table = parse(SAMPLE);
        let top = mounted_at(&table, Path::new("/tmp/a b")).unwrap();
        assert!(top.read_only());
        assert_eq!(top.super_option("size"), Some("2048k"));
        assert!(mounted_at(&table, Path::new("/nowhere")).is_none());
    }

    #[test]
    fn malformed_lines_are_skipped() {
        assert!(parse("garbage\n1 2 3\n").is_empty());
    }
}
