//! `[media]`: files a module sends (`pyward.send_file`). The table as written is also what the
//! rest of pyward uses: validating it only checks it.

use serde::{Deserialize, Serialize};

use super::{Invalid, check_ranges};

/// `[media]`: files a module sends (`pyward.send_file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaLimits {
    /// Size of one file, before base64.
    pub max_file_bytes: usize,
}

impl Default for MediaLimits {
    fn default() -> Self {
        MediaLimits {
            max_file_bytes: 512 * 1024,
        }
    }
}

impl MediaLimits {
    pub(super) fn validate(self, errors: &mut Vec<Invalid>) -> MediaLimits {
        let ranges: [(&str, usize, usize, usize); 1] =
            [("media.max_file_bytes", self.max_file_bytes, 1, 64 << 20)];
        check_ranges(errors, &ranges);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::problems;
    use super::*;

    #[test]
    fn media_section_accepts_a_valid_table_and_refuses_a_bad_one() {
        let good = MediaLimits {
            max_file_bytes: 64 << 20,
        };
        let (limits, found) = problems(|errors| good.validate(errors));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(limits, good);

        let bad = MediaLimits { max_file_bytes: 0 };
        let (_, found) = problems(|errors| bad.validate(errors));
        assert_eq!(
            found,
            ["media.max_file_bytes: must be between 1 and 67108864"]
        );
    }
}
