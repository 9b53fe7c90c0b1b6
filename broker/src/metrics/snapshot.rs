//! State series, read from the broker at scrape time and written in the Prometheus text format
//! (0.0.4). Only what exists now is shown: a deleted topic or group disappears at the next
//! scrape. Per-partition series are written for topics that have their own `topic` label
//! (`weir.metrics.topic.label.limit`), so their number stays bounded.

use std::fmt::Write;
use std::path::Path;

use crate::server::Shared;

/// Partitions hosted by this broker (every replica; one per partition on a single node).
pub const PARTITIONS: &str = "weir_partitions";
/// Partitions this broker leads.
pub const PARTITIONS_LED: &str = "weir_partitions_led";
/// Topics in the cluster (internal ones included).
pub const TOPICS: &str = "weir_topics";
/// Bytes of log segments, by topic (topics past the label limit: `other`).
pub const LOG_SIZE: &str = "weir_log_size_bytes";
/// Next offset to be written, by topic and partition (consumer lag = this − committed offset).
pub const LOG_END_OFFSET: &str = "weir_partition_log_end_offset";
/// First offset still in the log, by topic and partition.
pub const LOG_START_OFFSET: &str = "weir_partition_log_start_offset";
/// Free and total bytes of the file system holding the data directory.
pub const DISK_FREE: &str = "weir_disk_free_bytes";
pub const DISK_TOTAL: &str = "weir_disk_total_bytes";
/// Consumer groups, by state (`Empty`, `Stable`, `PreparingRebalance`, …).
pub const GROUPS: &str = "weir_consumer_groups";
/// Members of each consumer group.
pub const GROUP_MEMBERS: &str = "weir_consumer_group_members";
/// Committed offset by group, topic and partition.
pub const GROUP_COMMITTED_OFFSET: &str = "weir_consumer_group_committed_offset";
/// Partitions led here with fewer in-sync replicas than replicas (Kafka's UnderReplicatedPartitions).
pub const UNDER_REPLICATED: &str = "weir_partitions_under_replicated";
/// Partitions led here with fewer in-sync replicas than `min.insync.replicas`.
pub const UNDER_MIN_ISR: &str = "weir_partitions_under_min_isr";
/// Partitions hosted here that know no leader.
pub const OFFLINE: &str = "weir_partitions_offline";
/// Segment files (logs and indexes) open now; idle partitions hold none.
pub const OPEN_SEGMENT_FILES: &str = "weir_open_segment_files";
/// 1 once the broker is ready (see `/readyz`), else 0.
pub const READY: &str = "weir_ready";

/// Writes every state series.
pub fn render(shared: &Shared, ready: bool, out: &mut String) {
    let metrics = &shared.metrics;
    let topics = shared.metadata.topics();
    let partitions: usize = topics.iter().map(|t| t.hosted().count()).sum();
    let (mut led, mut under_replicated, mut under_min_isr, mut offline) = (0, 0, 0, 0);
    for topic in &topics {
        for partition in topic.hosted() {
            let leadership = partition.leadership(shared.settings.node_id);
            let replicas = partition.replica.as_ref().map_or(1, |r| r.replicas.len());
            offline += usize::from(leadership.leader < 0);
            if leadership.is_leader {
                led += 1;
                under_replicated += usize::from(leadership.isr.len() < replicas);
                under_min_isr += usize::from(leadership.isr.len() < topic.settings.min_insync_replicas);
            }
        }
    }
    family(out, READY, "gauge", "1 once the broker is ready (listeners bound, logs recovered), else 0.");
    let _ = writeln!(out, "{READY} {}", u8::from(ready));
    family(out, TOPICS, "gauge", "Topics in the cluster, internal ones included.");
    let _ = writeln!(out, "{TOPICS} {}", topics.len());
    family(out, PARTITIONS, "gauge", "Partitions hosted by this broker.");
    let _ = writeln!(out, "{PARTITIONS} {partitions}");
    family(out, PARTITIONS_LED, "gauge", "Partitions this broker leads.");
    let _ = writeln!(out, "{PARTITIONS_LED} {led}");
    family(out, UNDER_REPLICATED, "gauge", "Partitions this broker leads with fewer in-sync replicas than replicas.");
    let _ = writeln!(out, "{UNDER_REPLICATED} {under_replicated}");
    family(out, UNDER_MIN_ISR, "gauge", "Partitions this broker leads with fewer in-sync replicas than min.insync.replicas.");
    let _ = writeln!(out, "{UNDER_MIN_ISR} {under_min_isr}");
    family(out, OFFLINE, "gauge", "Partitions hosted here that know no leader.");
    let _ = writeln!(out, "{OFFLINE} {offline}");
    family(out, OPEN_SEGMENT_FILES, "gauge", "Segment files (logs and indexes) open now; idle partitions hold none.");
    let _ = writeln!(out, "{OPEN_SEGMENT_FILES} {}", weir_storage::open_segment_files());

    let mut sizes: Vec<(String, u64)> = Vec::new();
    let mut offsets = Vec::new();
    let mut other_size = None::<u64>;
    for topic in &topics {
        let labelled = metrics.topic_is_labelled(&topic.name);
        let mut size = 0;
        for partition in topic.hosted() {
            let (bytes, start, end) = {
                let log = partition.log();
                (log.size(), log.log_start_offset(), log.log_end_offset())
            };
            size += bytes;
            if labelled {
                offsets.push((topic.name.clone(), partition.index, start, end));
            }
        }
        if labelled {
            sizes.push((topic.name.to_string(), size));
        } else {
            *other_size.get_or_insert(0) += size;
        }
    }
    family(out, LOG_SIZE, "gauge", "Bytes of log segments, by topic.");
    for (topic, size) in sizes.iter().map(|(t, s)| (t.as_str(), *s)).chain(other_size.map(|s| (super::OTHER_TOPIC, s))) {
        let _ = writeln!(out, "{LOG_SIZE}{{topic=\"{}\"}} {size}", escape(topic));
    }
    family(out, LOG_START_OFFSET, "gauge", "First offset still in the log, by topic and partition.");
    for (topic, partition, start, _) in &offsets {
        let _ = writeln!(out, "{LOG_START_OFFSET}{{topic=\"{}\",partition=\"{partition}\"}} {start}", escape(topic));
    }
    family(out, LOG_END_OFFSET, "gauge", "Next offset to be written, by topic and partition.");
    for (topic, partition, _, end) in &offsets {
        let _ = writeln!(out, "{LOG_END_OFFSET}{{topic=\"{}\",partition=\"{partition}\"}} {end}", escape(topic));
    }

    if let Some((free, total)) = disk_space(&shared.settings.data_dir) {
        family(out, DISK_FREE, "gauge", "Free bytes (available to the broker) on the data directory's file system.");
        let _ = writeln!(out, "{DISK_FREE} {free}");
        family(out, DISK_TOTAL, "gauge", "Total bytes of the data directory's file system.");
        let _ = writeln!(out, "{DISK_TOTAL} {total}");
    }

    let groups = shared.groups.snapshot();
    let mut by_state = std::collections::BTreeMap::<&str, usize>::new();
    for group in &groups {
        *by_state.entry(group.state).or_default() += 1;
    }
    family(out, GROUPS, "gauge", "Consumer groups, by state.");
    for (state, count) in by_state {
        let _ = writeln!(out, "{GROUPS}{{state=\"{state}\"}} {count}");
    }
    family(out, GROUP_MEMBERS, "gauge", "Members of each consumer group.");
    for group in &groups {
        let _ = writeln!(out, "{GROUP_MEMBERS}{{group=\"{}\"}} {}", escape(&group.id), group.members);
    }
    family(out, GROUP_COMMITTED_OFFSET, "gauge", "Committed offset, by group, topic and partition.");
    for group in &groups {
        for ((topic, partition), offset) in &group.offsets {
            if metrics.topic_is_labelled(topic) {
                let _ = writeln!(
                    out,
                    "{GROUP_COMMITTED_OFFSET}{{group=\"{}\",topic=\"{}\",partition=\"{partition}\"}} {offset}",
                    escape(&group.id),
                    escape(topic)
                );
            }
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
pub fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").into()
}

/// (available, total) bytes of the file system holding `path`, from statvfs(3).
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is NUL-terminated and `stat` is writable memory of the right type.
    let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    // The field types vary by platform (u32 on some 32-bit targets).
    #[allow(clippy::unnecessary_cast)]
    let (block, available, total) = (stat.f_frsize as u64, stat.f_bavail as u64, stat.f_blocks as u64);
    Some((available.saturating_mul(block), total.saturating_mul(block)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("plain-topic.1"), "plain-topic.1");
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn disk_space_of_a_real_directory() {
        let (free, total) = disk_space(Path::new(".")).expect("statvfs");
        assert!(total > 0 && free <= total);
    }
}
