//! "Did you mean ...?": the known name closest to a mistyped one.

/// The most edits (insertions, deletions, substitutions, swaps of two
/// neighbours) a mistyped name may be from a known one to be suggested.
const MOST_EDITS: usize = 2;

/// The name in `known` a few edits from `typed` (case ignored), if one is.
pub(super) fn nearest<'a>(
    typed: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    known
        .into_iter()
        .map(|name| (edits(&typed, &name.to_ascii_lowercase()), name))
        .filter(|(distance, _)| *distance <= MOST_EDITS)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

/// The optimal string alignment distance between `a` and `b`.
fn edits(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best =
                (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_a_few_edits_away_is_suggested_and_a_distant_one_is_not() {
        let known = ["access_ttl", "refresh_ttl", "leeway"];
        assert_eq!(nearest("acess_ttl", known), Some("access_ttl"));
        assert_eq!(nearest("ACCESS_TLT", known), Some("access_ttl"));
        assert_eq!(nearest("refresh", known), None);
        assert_eq!(nearest("colour", known), None);
    }
}
