//! Giving freed heap back to the system once the gateway goes quiet.
//!
//! glibc keeps freed heap pages for the process. After a burst, the memory of the burst's
//! requests and connections is freed at different times: instances when they have been idle a
//! while, client connections when their clients close them or the keep-alive timeout ends them.
//! Requests and connections note when they end ([`note_release`]); a second with no such end,
//! after some, is when the heap is trimmed ([`QuietTrim`]).

use std::sync::atomic::{AtomicU64, Ordering};

/// Ends of requests and connections so far: each may have freed memory.
static RELEASES: AtomicU64 = AtomicU64::new(0);

/// A request finished or a connection closed: its memory is free.
pub fn note_release() {
    RELEASES.fetch_add(1, Ordering::Relaxed);
}

/// Ends of requests and connections so far.
pub fn releases() -> u64 {
    RELEASES.load(Ordering::Relaxed)
}

/// Return freed heap pages to the system (glibc keeps them otherwise).
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory of the allocator's own arenas.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Decides, looking at [`releases`] at a steady pace, when to trim: when nothing ended since the
/// last look but something did since the last trim. Under steady traffic it never trims (requests
/// keep ending); after traffic, once.
#[derive(Debug, Default)]
pub struct QuietTrim {
    at_last_look: u64,
    at_last_trim: u64,
}

impl QuietTrim {
    /// Whether to trim now, given the count of releases; a `true` counts as the trim.
    pub fn due(&mut self, releases: u64) -> bool {
        let quiet = releases == self.at_last_look;
        self.at_last_look = releases;
        if quiet && releases != self.at_last_trim {
            self.at_last_trim = releases;
            return true;
        }
        false
    }

    /// A trim was made for another reason: what ended until now is covered.
    pub fn trimmed(&mut self, releases: u64) {
        self.at_last_trim = releases;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_after_traffic_stops_and_never_during_it() {
        let mut trim = QuietTrim::default();
        // Nothing happened yet: nothing to give back.
        assert!(!trim.due(0));
        // Steady traffic: every look sees new ends.
        assert!(!trim.due(10));
        assert!(!trim.due(25));
        assert!(!trim.due(40));
        // The first quiet look trims, the next ones do not.
        assert!(trim.due(40));
        assert!(!trim.due(40));
        assert!(!trim.due(40));
        // Connections closing later (no request) free memory again: trimmed once quiet.
        assert!(!trim.due(41));
        assert!(trim.due(41));
        assert!(!trim.due(41));
    }

    #[test]
    fn a_trim_made_for_another_reason_covers_what_ended_before_it() {
        let mut trim = QuietTrim::default();
        assert!(!trim.due(5));
        trim.trimmed(5);
        assert!(!trim.due(5));
        assert!(!trim.due(6));
        assert!(trim.due(6));
    }
}
