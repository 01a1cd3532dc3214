//! `LogDb` under `kill -9`: a child process appends batches durably while
//! another thread writes the unsynced committed-id hint and the synced
//! vote and reads the log, as a node does; it prints the last index of
//! every append whose commit returned. The parent kills it at a random
//! moment, reopens the log, and checks that every printed index is there.
//! On tmpfs (`/dev/shm` when it exists) a process kill loses no completed
//! write, so any loss here would be a logic bug, not a missing fsync.

// A test helper may unwrap: a panic is a failed test with its message.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::ops::Bound;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_storage::LogDb;

const TEST_NAME: &str = "every_append_that_returned_survives_kill_9";
/// Set in the child: the directory of the log it writes.
const CHILD_DIR_ENV: &str = "CAIRN_LOG_KILL_CHILD_DIR";
const KILLS: u64 = 20;

/// xorshift64: enough randomness for sizes and timings, and no dependency.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// The child: appends forever, printing the last index of each committed batch.
fn append_until_killed(dir: &Path) {
    let log = Arc::new(LogDb::open(dir).unwrap());
    let meta_log = log.clone();
    std::thread::spawn(move || {
        let mut random = Random(0x5eed ^ u64::from(std::process::id()));
        for hint in 1u64.. {
            meta_log
                .set_meta_unsynced("committed", &hint.to_le_bytes())
                .unwrap();
            if random.below(20) == 0 {
                meta_log.set_meta("vote", &hint.to_le_bytes()).unwrap();
            }
            meta_log.range(Bound::Unbounded, Bound::Unbounded).unwrap();
            std::thread::sleep(Duration::from_micros(random.below(300)));
        }
    });
    let mut random = Random(0xfeed ^ u64::from(std::process::id()));
    let mut next = log.last().unwrap().map_or(1, |(index, _)| index + 1);
    let mut purged_upto = next.saturating_sub(1);
    let mut stdout = std::io::stdout().lock();
    loop {
        let count = 1 + random.below(16);
        let rows: Vec<(u64, Vec<u8>)> = (next..next + count)
            .map(|index| (index, vec![index as u8; 100 + random.below(4000) as usize]))
            .collect();
        log.append(rows.iter().map(|(index, bytes)| (*index, bytes.as_slice())))
            .unwrap();
        next += count;
        writeln!(stdout, "{}", next - 1).unwrap();
        stdout.flush().unwrap();
        // Purge as snapshots do, so that pages are freed and reused.
        if next - purged_upto > 1000 {
            purged_upto = next - 500;
            // Recorded first, then removed in unsynced steps, as the log
            // writer does: a kill may fall between two steps.
            log.set_meta("last_purged", &purged_upto.to_le_bytes())
                .unwrap();
            while log
                .purge_some(purged_upto, 1 + random.below(64 * 1024))
                .unwrap()
            {}
        }
    }
}

#[test]
fn every_append_that_returned_survives_kill_9() {
    if let Some(dir) = std::env::var_os(CHILD_DIR_ENV) {
        append_until_killed(Path::new(&dir));
        return;
    }
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut appended_at_all = false;
    for kill in 1..=KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR_ENV, dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (acked_tx, acked_rx) = std::sync::mpsc::channel::<u64>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The test harness prints lines of its own; only numbers are acks.
                if let Ok(index) = line.trim().parse()
                    && acked_tx.send(index).is_err()
                {
                    break;
                }
            }
        });
        let run = Duration::from_millis(100 + random.below(400));
        let started = Instant::now();
        let mut acked = 0;
        while started.elapsed() < run {
            if let Ok(index) = acked_rx.recv_timeout(Duration::from_millis(5)) {
                acked = acked.max(index);
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Acks already printed before the kill count too.
        while let Ok(index) = acked_rx.recv_timeout(Duration::from_millis(100)) {
            acked = acked.max(index);
        }
        appended_at_all |= acked > 0;
        let log = LogDb::open(dir.path()).unwrap();
        let last = log.last().unwrap().map_or(0, |(index, _)| index);
        assert!(
            last >= acked,
            "kill {kill}: append up to {acked} returned, but the reopened log ends at {last}"
        );
        // A purge removes from the bottom only: no hole, whatever step the kill fell on.
        let first = log.first_index().unwrap().unwrap_or(1);
        assert_eq!(
            log.len().unwrap(),
            (last + 1).saturating_sub(first),
            "kill {kill}: the reopened log from {first} to {last} has a hole"
        );
    }
    assert!(
        appended_at_all,
        "the child never appended: the test tested nothing"
    );
}
