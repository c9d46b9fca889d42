//! What of the code in this process's address space stays resident: the component embedded in
//! the binary, and the compiled component mapped from the cache file.

use std::path::Path;

use wasmtime::component::Component;

#[cfg(target_os = "linux")]
const PAGE: usize = 4096;

/// Let the system take back the memory pages of `bytes` (the component embedded in the binary,
/// once compiled or loaded): they are part of the executable's file, so if they are ever read
/// again they are read back from it. Linux; elsewhere nothing happens.
pub fn release(bytes: &'static [u8]) {
    // SAFETY: `bytes` is read-only data of the executable, never written; a later read faults
    // its pages back in from the file with the same contents.
    #[cfg(target_os = "linux")]
    unsafe {
        drop_whole_pages(bytes.as_ptr_range());
    }
    #[cfg(not(target_os = "linux"))]
    let _ = bytes;
}

/// `MADV_DONTNEED` on the whole pages inside `range` (the partial pages at its ends are left).
///
/// # Safety
/// `range` must be a file mapping that is never written (a dropped page is read back from the
/// file, so anything written to it would be lost).
#[cfg(target_os = "linux")]
unsafe fn drop_whole_pages(range: std::ops::Range<*const u8>) {
    let start = (range.start as usize).div_ceil(PAGE) * PAGE;
    let end = range.end as usize / PAGE * PAGE;
    if end > start {
        // SAFETY: the caller's promise: an unwritten file mapping, so dropping its pages only
        // makes a later access map the file's same contents again.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

/// Map the compiled code of `component`, loaded from `file`, in single pages as it runs.
///
/// The code is mapped from the page cache, where Linux (6.x, ext4) keeps a file just written or
/// read ahead in folios of up to 2 MiB, and a fault maps a whole folio. Faults in executable
/// mappings read ahead up to the disk's `read_ahead_kb` (8 MiB on the build VM) whatever
/// `MADV_RANDOM` says, and so do faults in the instances' memories, whose initial data is mapped
/// from this file too: one request made all 13 MiB of an app's compiled code resident, though it
/// runs a small part.
///
/// So: the pages mapped so far are unmapped (they are the file's, never written), the file's pages
/// no process maps leave the page cache, and the file is read back without read-ahead, which
/// caches it in single pages. Nothing is read ahead after that (all of it is cached), and a fault
/// maps its page and the cached pages around it (the kernel's fault-around, 64 KiB). Costs
/// start-up one read of the file. Linux; elsewhere nothing happens.
pub fn map_code_on_demand(component: &Component, file: &Path) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;

        // SAFETY: the component's image is mapped by wasmtime from the file for as long as
        // `component` lives, read-only or read-execute and never written (wasmtime refuses images
        // that would need relocating).
        unsafe {
            drop_whole_pages(component.image_range());
        }
        let Ok(mut opened) = std::fs::File::open(file) else {
            return;
        };
        let fd = opened.as_raw_fd();
        // SAFETY: advice on a file descriptor this function owns for the call.
        unsafe {
            libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED);
            libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_RANDOM);
        }
        let mut buffer = vec![0; 1 << 20];
        while std::io::Read::read(&mut opened, &mut buffer).is_ok_and(|n| n > 0) {}
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (component, file);
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// KiB of `range` this process has resident, from `/proc/self/smaps`.
    fn resident_kib(range: &std::ops::Range<*const u8>) -> u64 {
        let (start, end) = (range.start as u64, range.end as u64);
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        let mut total = 0;
        for line in smaps.lines() {
            let first = line.split_whitespace().next().unwrap_or("");
            if let Some((from, to)) = first.split_once('-')
                && let (Ok(from), Ok(to)) =
                    (u64::from_str_radix(from, 16), u64::from_str_radix(to, 16))
            {
                inside = from < end && to > start;
            } else if inside && let Some(kib) = line.strip_prefix("Rss:") {
                total += kib.trim().trim_end_matches(" kB").parse::<u64>().unwrap();
            }
        }
        total
    }

    /// Pages of `file` in the page cache, and all its pages.
    fn cached_pages(file: &Path) -> (usize, usize) {
        use std::os::fd::AsRawFd;
        let opened = std::fs::File::open(file).unwrap();
        let len = opened.metadata().unwrap().len() as usize;
        let pages = len.div_ceil(PAGE);
        let mut vec = vec![0u8; pages];
        // SAFETY: a read-only private mapping of a file this test owns, unmapped below.
        unsafe {
            let at = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                opened.as_raw_fd(),
                0,
            );
            assert_ne!(at, libc::MAP_FAILED);
            assert_eq!(libc::mincore(at, len, vec.as_mut_ptr()), 0);
            libc::munmap(at, len);
        }
        (vec.iter().filter(|v| **v & 1 == 1).count(), pages)
    }

    #[test]
    fn code_mapped_on_demand_is_not_resident_until_it_runs_and_its_file_stays_cached() {
        let dir = std::env::temp_dir().join(format!("apex-code-pages-{}", std::process::id()));
        let engine = wasmtime::Engine::default();
        let (component, file) =
            crate::engine::load_cached(&engine, crate::components::ADAPTER_END, &dir).unwrap();
        // Loaded again from the file (the first load compiled it): mapped from the page cache.
        let (component, file) = {
            drop((component, file));
            crate::engine::load_cached(&engine, crate::components::ADAPTER_END, &dir).unwrap()
        };
        let range = component.image_range();
        let mut sum = 0u8;
        let mut at = range.start;
        while at < range.end {
            // SAFETY: inside the image wasmtime mapped readable for the component's lifetime.
            sum = sum.wrapping_add(unsafe { std::ptr::read_volatile(at) });
            at = at.wrapping_add(PAGE);
        }
        std::hint::black_box(sum);
        let touched = resident_kib(&range);
        assert!(
            touched >= 64,
            "only {touched} KiB resident after reading the image"
        );

        map_code_on_demand(&component, &file);
        let after = resident_kib(&range);
        assert!(after <= 8, "{after} KiB still resident (was {touched} KiB)");
        let (cached, pages) = cached_pages(&file);
        assert_eq!(cached, pages, "the file is read back into the page cache");
        drop(component);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
