//! `Marker` / `MaxItems` pagination, as RAM's `List*` actions do it.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Where a listing resumes: handed out with a truncated page, handed back for the next.
///
/// Opaque to callers: the text form is only for the wire. It records the sort key of the
/// last item returned, so pages stay correct when items are added or removed between
/// requests (nothing is seen twice; items inserted behind the marker are skipped).
#[derive(Clone, PartialEq, Eq)]
pub struct Marker(String);

/// A marker that this store did not hand out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("marker {0:?} is not valid")]
pub struct InvalidMarker(String);

const MARKER_VERSION: &str = "1:";

impl Marker {
    /// Reads the text form returned by [`Marker::encode`].
    pub fn parse(text: &str) -> Result<Self, InvalidMarker> {
        let bad = || InvalidMarker(text.chars().take(64).collect());
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
        let decoded = String::from_utf8(bytes).map_err(|_| bad())?;
        let key = decoded.strip_prefix(MARKER_VERSION).ok_or_else(bad)?;
        if key.is_empty() {
            return Err(bad());
        }
        Ok(Self(key.to_owned()))
    }

    /// The text form, for the `Marker` response field.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{MARKER_VERSION}{}", self.0))
    }

    pub(crate) fn after(key: String) -> Self {
        Self(key)
    }

    pub(crate) fn key(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Marker({})", self.encode())
    }
}

/// Which page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    marker: Option<Marker>,
    max_items: u32,
}

impl Page {
    /// RAM's default `MaxItems`.
    pub const DEFAULT_MAX_ITEMS: u32 = 100;
    /// RAM's largest `MaxItems`.
    pub const MAX_ITEMS: u32 = 1000;

    /// `max_items` is clamped to `1..=1000`; the API layer rejects out-of-range values
    /// before they get here, the clamp only keeps a bug from reading a whole table.
    pub fn new(marker: Option<Marker>, max_items: u32) -> Self {
        Self {
            marker,
            max_items: max_items.clamp(1, Self::MAX_ITEMS),
        }
    }

    /// The first page, with `max_items` items at most.
    pub fn first(max_items: u32) -> Self {
        Self::new(None, max_items)
    }

    pub fn marker(&self) -> Option<&Marker> {
        self.marker.as_ref()
    }

    pub fn max_items(&self) -> u32 {
        self.max_items
    }

    /// The sort key the page starts after; the empty string sorts before every key.
    pub(crate) fn after_key(&self) -> &str {
        self.marker.as_ref().map_or("", Marker::key)
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::first(Self::DEFAULT_MAX_ITEMS)
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// Present exactly when more items follow (`IsTruncated`).
    pub marker: Option<Marker>,
}

impl<T> Listing<T> {
    pub fn is_truncated(&self) -> bool {
        self.marker.is_some()
    }

    /// One page of a whole listing already in memory, sorted by `key` (unique, ascending):
    /// for small per-account sets that the store returns in full.
    pub fn of_sorted(all: Vec<T>, page: &Page, key: impl Fn(&T) -> String) -> Self {
        let after = page.after_key();
        let max = usize::try_from(page.max_items).unwrap_or(usize::MAX);
        let rows: Vec<T> = all
            .into_iter()
            .filter(|item| key(item).as_str() > after)
            .take(max.saturating_add(1))
            .collect();
        Self::from_rows(rows, page, key)
    }

    /// Builds a page from up to `max_items + 1` rows in key order: the extra row, if
    /// present, only says that the listing goes on.
    pub(crate) fn from_rows(mut rows: Vec<T>, page: &Page, key: impl Fn(&T) -> String) -> Self {
        let max = usize::try_from(page.max_items).unwrap_or(usize::MAX);
        let marker = if rows.len() > max {
            rows.truncate(max);
            rows.last().map(|last| Marker::after(key(last)))
        } else {
            None
        };
        Self {
            items: rows,
            marker,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_reject_forgeries() {
        let m = Marker::after("alice.smith".into());
        let text = m.encode();
        assert!(!text.contains("alice"), "not readable at a glance");
        assert_eq!(Marker::parse(&text), Ok(m));
        for bad in ["", "!!!", "YWxpY2U", "MTo", "/w"] {
            assert!(Marker::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_sizes_are_clamped() {
        assert_eq!(Page::first(0).max_items(), 1);
        assert_eq!(Page::first(5000).max_items(), 1000);
        assert_eq!(Page::default().max_items(), 100);
        assert_eq!(Page::default().after_key(), "");
    }

    #[test]
    fn truncation_needs_the_extra_row() {
        let page = Page::first(2);
        let full = Listing::from_rows(vec!["a", "b"], &page, |s| s.to_string());
        assert!(!full.is_truncated());
        let more = Listing::from_rows(vec!["a", "b", "c"], &page, |s| s.to_string());
        assert_eq!(more.items, vec!["a", "b"]);
        assert_eq!(more.marker.unwrap().key(), "b");
    }
}
