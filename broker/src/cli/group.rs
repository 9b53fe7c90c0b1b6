//! `weir group list|describe|reset-offsets`.

use std::collections::BTreeMap;

use bytes::Bytes;
use clap::{ArgGroup, Args, Subcommand};
use kafka_protocol::messages::ConsumerProtocolAssignment;
use kafka_protocol::protocol::Decodable;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::groups::GroupInfo;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use weir::BrokerError;

use super::output::{print, print_sections, Table};
use super::{client_error, Connect, Format};

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Every consumer group, with its state and member count.
    List(ListArgs),
    /// A group's members and, per partition, its committed offset, the log end and the lag.
    Describe(DescribeArgs),
    /// Move a group's committed offsets (dry run unless --execute; the group must be inactive).
    ResetOffsets(ResetArgs),
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub connect: Connect,
}

#[derive(Args)]
pub struct DescribeArgs {
    pub group: String,
    #[command(flatten)]
    pub connect: Connect,
}

#[derive(Args)]
#[command(group(ArgGroup::new("target").required(true).args(["to_earliest", "to_latest", "to_offset", "to_datetime"])))]
#[command(group(ArgGroup::new("scope").required(true).args(["topic", "all_topics"])))]
pub struct ResetArgs {
    pub group: String,
    /// A topic to reset, `TOPIC` or `TOPIC:P,P,…` for some partitions (repeatable).
    #[arg(long, value_name = "TOPIC[:PARTITIONS]")]
    pub topic: Vec<String>,
    /// Every topic the group has committed offsets for.
    #[arg(long)]
    pub all_topics: bool,
    /// To each partition's log start offset.
    #[arg(long)]
    pub to_earliest: bool,
    /// To each partition's log end offset (skip everything so far).
    #[arg(long)]
    pub to_latest: bool,
    /// To this offset (clamped to the partition's start and end).
    #[arg(long, value_name = "OFFSET")]
    pub to_offset: Option<i64>,
    /// To the first offset whose timestamp is at or after this time: RFC 3339
    /// (`2024-05-01T12:00:00Z`) or `YYYY-MM-DDTHH:MM:SS[.mmm]` in UTC.
    #[arg(long, value_name = "DATETIME")]
    pub to_datetime: Option<String>,
    /// Commit the new offsets (without it, only show them).
    #[arg(long)]
    pub execute: bool,
    #[command(flatten)]
    pub connect: Connect,
}

pub async fn run(command: GroupCommand) -> Result<(), BrokerError> {
    match command {
        GroupCommand::List(args) => list(args),
        GroupCommand::Describe(args) => describe(args),
        GroupCommand::ResetOffsets(args) => reset_offsets(args),
    }
}

fn list(args: ListArgs) -> Result<(), BrokerError> {
    let consumer = args.connect.consumer(None)?;
    let groups = consumer.fetch_group_list(None, args.connect.timeout()).map_err(client_error("list groups"))?;
    let mut table = Table::new(&["group", "state", "protocol_type", "members"]);
    let mut sorted: Vec<&GroupInfo> = groups.groups().iter().collect();
    sorted.sort_by_key(|g| g.name());
    for group in sorted {
        table.push(vec![json!(group.name()), json!(group.state()), json!(group.protocol_type()), json!(group.members().len())]);
    }
    print(args.connect.format, &table);
    Ok(())
}

fn group_info(consumer: &BaseConsumer, connect: &Connect, group: &str) -> Result<(String, Vec<Member>), BrokerError> {
    let groups = consumer.fetch_group_list(Some(group), connect.timeout()).map_err(client_error("describe the group"))?;
    let Some(info) = groups.groups().iter().find(|g| g.name() == group) else {
        return Ok(("Dead".into(), Vec::new()));
    };
    let members = info
        .members()
        .iter()
        .map(|m| Member {
            id: m.id().to_owned(),
            client_id: m.client_id().to_owned(),
            host: m.client_host().to_owned(),
            assignment: m.assignment().map(assigned_partitions).unwrap_or_default(),
        })
        .collect();
    Ok((info.state().to_owned(), members))
}

struct Member {
    id: String,
    client_id: String,
    host: String,
    assignment: Vec<(String, i32)>,
}

/// The partitions in a member's assignment (the consumer protocol's `ConsumerProtocolAssignment`).
fn assigned_partitions(bytes: &[u8]) -> Vec<(String, i32)> {
    let mut buf = Bytes::copy_from_slice(bytes);
    if buf.len() < 2 {
        return Vec::new();
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    let _ = bytes::Buf::get_i16(&mut buf);
    match ConsumerProtocolAssignment::decode(&mut buf, version.clamp(0, 3)) {
        Ok(assignment) => assignment
            .assigned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (t.topic.0.to_string(), *p)))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The group's committed offsets for every partition of every topic (those with one).
fn committed(consumer: &BaseConsumer, connect: &Connect) -> Result<BTreeMap<(String, i32), i64>, BrokerError> {
    let metadata = consumer.fetch_metadata(None, connect.timeout()).map_err(client_error("read the cluster metadata"))?;
    let mut all = TopicPartitionList::new();
    for topic in metadata.topics().iter().filter(|t| !t.name().starts_with("__")) {
        for partition in topic.partitions() {
            all.add_partition(topic.name(), partition.id());
        }
    }
    if all.count() == 0 {
        return Ok(BTreeMap::new());
    }
    let offsets = consumer.committed_offsets(all, connect.timeout()).map_err(client_error("read the group's committed offsets"))?;
    Ok(offsets
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some(((e.topic().to_owned(), e.partition()), o)),
            _ => None,
        })
        .collect())
}

fn describe(args: DescribeArgs) -> Result<(), BrokerError> {
    let consumer = args.connect.consumer(Some(&args.group))?;
    let (state, members) = group_info(&consumer, &args.connect, &args.group)?;
    let committed = committed(&consumer, &args.connect)?;
    let mut owners: BTreeMap<(String, i32), &Member> = BTreeMap::new();
    for member in &members {
        for tp in &member.assignment {
            owners.insert(tp.clone(), member);
        }
    }
    let mut keys: Vec<(String, i32)> = committed.keys().chain(owners.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    if keys.is_empty() && members.is_empty() && state == "Dead" {
        return Err(BrokerError::Client(format!("consumer group {} does not exist", args.group)));
    }
    let mut offsets = Table::new(&["topic", "partition", "current_offset", "log_end_offset", "lag", "consumer_id", "host", "client_id"]);
    let mut total_lag = 0i64;
    for (topic, partition) in keys {
        let (_, end) = consumer.fetch_watermarks(&topic, partition, args.connect.timeout()).map_err(client_error("read the partition's offsets"))?;
        let current = committed.get(&(topic.clone(), partition)).copied();
        let lag = current.map(|c| (end - c).max(0));
        total_lag += lag.unwrap_or(0);
        let owner = owners.get(&(topic.clone(), partition));
        offsets.push(vec![
            json!(topic),
            json!(partition),
            json!(current),
            json!(end),
            json!(lag),
            json!(owner.map(|m| &m.id)),
            json!(owner.map(|m| &m.host)),
            json!(owner.map(|m| &m.client_id)),
        ]);
    }
    let mut member_table = Table::new(&["consumer_id", "host", "client_id", "partitions"]);
    for member in &members {
        let partitions: Vec<String> = member.assignment.iter().map(|(t, p)| format!("{t}-{p}")).collect();
        member_table.push(vec![json!(member.id), json!(member.host), json!(member.client_id), json!(partitions)]);
    }
    print_sections(
        args.connect.format,
        &[("group", json!(args.group)), ("state", json!(state)), ("total_lag", json!(total_lag))],
        &[("offsets", &offsets), ("members", &member_table)],
    );
    Ok(())
}

/// A datetime as epoch milliseconds (UTC unless the text carries an offset).
pub fn parse_datetime(text: &str) -> Result<i64, BrokerError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis()));
    }
    Err(BrokerError::Client(format!("cannot read {text:?} as a date and time (try 2024-05-01T12:00:00Z)")))
}

fn reset_offsets(args: ResetArgs) -> Result<(), BrokerError> {
    let consumer = args.connect.consumer(Some(&args.group))?;
    let timeout = args.connect.timeout();
    let (state, _) = group_info(&consumer, &args.connect, &args.group)?;
    if args.execute && !matches!(state.as_str(), "Empty" | "Dead" | "") {
        return Err(BrokerError::Client(format!(
            "assignments can only be reset if the group '{}' is inactive, but the current state is {state}",
            args.group
        )));
    }
    // Which partitions.
    let mut targets: Vec<(String, i32)> = Vec::new();
    if args.all_topics {
        targets.extend(committed(&consumer, &args.connect)?.into_keys());
    }
    for spec in &args.topic {
        let (topic, partitions) = match spec.split_once(':') {
            Some((topic, list)) => {
                let parsed = list
                    .split(',')
                    .map(|p| p.trim().parse::<i32>().map_err(|_| BrokerError::Client(format!("bad partition list in {spec:?}"))))
                    .collect::<Result<Vec<_>, _>>()?;
                (topic, parsed)
            }
            None => {
                let metadata = consumer.fetch_metadata(Some(spec), timeout).map_err(client_error("read the topic's metadata"))?;
                let topic = metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == spec && t.error().is_none())
                    .ok_or_else(|| BrokerError::Client(format!("topic {spec} not found")))?;
                (spec.as_str(), topic.partitions().iter().map(|p| p.id()).collect())
            }
        };
        targets.extend(partitions.into_iter().map(|p| (topic.to_owned(), p)));
    }
    targets.sort();
    targets.dedup();
    if targets.is_empty() {
        return Err(BrokerError::Client("no partitions to reset".into()));
    }
    let current = committed(&consumer, &args.connect)?;
    let by_time = match &args.to_datetime {
        Some(text) => {
            let at = parse_datetime(text)?;
            let mut wanted = TopicPartitionList::new();
            for (topic, partition) in &targets {
                wanted.add_partition_offset(topic, *partition, Offset::Offset(at)).map_err(client_error("build the partition list"))?;
            }
            let found = consumer.offsets_for_times(wanted, timeout).map_err(client_error("look up offsets by time"))?;
            found.elements().iter().map(|e| ((e.topic().to_owned(), e.partition()), e.offset())).collect::<BTreeMap<_, _>>()
        }
        None => BTreeMap::new(),
    };
    let mut table = Table::new(&["topic", "partition", "current_offset", "new_offset"]);
    let mut commit = TopicPartitionList::new();
    for (topic, partition) in &targets {
        let (low, high) = consumer.fetch_watermarks(topic, *partition, timeout).map_err(client_error("read the partition's offsets"))?;
        let new = if args.to_earliest {
            low
        } else if args.to_latest {
            high
        } else if let Some(offset) = args.to_offset {
            offset.clamp(low, high)
        } else {
            // No record at or after the time: the end, as kafka-consumer-groups.sh does.
            match by_time.get(&(topic.clone(), *partition)) {
                Some(Offset::Offset(o)) => *o,
                _ => high,
            }
        };
        table.push(vec![json!(topic), json!(partition), json!(current.get(&(topic.clone(), *partition))), json!(new)]);
        commit.add_partition_offset(topic, *partition, Offset::Offset(new)).map_err(client_error("build the partition list"))?;
    }
    if args.execute {
        consumer.commit(&commit, CommitMode::Sync).map_err(client_error("commit the new offsets"))?;
    }
    match args.connect.format {
        Format::Table => {
            print(Format::Table, &table);
            if args.execute {
                println!("committed the new offsets of group {}", args.group);
            } else {
                println!("dry run: nothing committed (add --execute to apply)");
            }
        }
        Format::Json => {
            println!("{}", json!({"group": args.group, "executed": args.execute, "offsets": table.to_json()}));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_in_kafkas_and_rfc3339_forms() {
        assert_eq!(parse_datetime("1970-01-01T00:00:01Z").ok(), Some(1000));
        assert_eq!(parse_datetime("1970-01-01T00:00:01.500").ok(), Some(1500));
        assert_eq!(parse_datetime("1970-01-01T01:00:00+01:00").ok(), Some(0));
        assert_eq!(parse_datetime("1970-01-02").ok(), Some(86_400_000));
        assert!(parse_datetime("yesterday").is_err());
    }
}
