//! How text is folded for case-insensitive search: the one definition, used when a task is
//! written (by the service) and when existing rows are back-filled (by the migration), and for
//! the search text itself.
//!
//! The database's own `lower()` cannot be used: SQLite's folds ASCII only, and PostgreSQL's
//! depends on the database's locale. Folding in Rust gives the same answer on every back end.

/// Lower-cases `text` character by character, as PostgreSQL's `lower()` does in a Unicode
/// locale (`ẞ` → `ß`, while `ß` and `ss` stay distinct), and writes Greek final sigma as `σ`
/// so that `ΟΔΟΣ` finds `οδός`'s ending too. Scripts without case (CJK) are unchanged.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for ch in text.chars() {
        for lower in ch.to_lowercase() {
            folded.push(if lower == 'ς' { 'σ' } else { lower });
        }
    }
    folded
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn every_script_folds_one_way() {
        assert_eq!(fold("École Primaire"), "école primaire");
        assert_eq!(fold("ÉCOLE"), fold("école"));
        assert_eq!(fold("STRASSE"), "strasse");
        assert_eq!(fold("Straße"), "straße");
        assert_eq!(fold("STRAẞE"), "straße");
        assert_eq!(fold("МОСКВА"), "москва");
        assert_eq!(fold("ΟΔΌΣ"), "οδόσ");
        assert_eq!(fold("οδός"), "οδόσ");
        assert_eq!(fold("東京タワー"), "東京タワー");
    }
}
