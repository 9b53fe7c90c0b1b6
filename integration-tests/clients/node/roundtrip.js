#!/usr/bin/env node
// Round trip through a Kafka-compatible broker with kafkajs.
//
// Usage: node roundtrip.js HOST:PORT TOPIC [produce-only]
//
// 1. admin.createTopics creates TOPIC with 2 partitions (waitForLeaders);
//    admin.fetchTopicMetadata must show 2 partitions with leaders.
// 2. producer.send with acks -1: three sends (no compression, GZIP, no
//    compression) of records with keys, values, headers (including a header
//    key repeated twice) and explicit timestamps and partitions; one record is
//    a tombstone (null value), one has a null key, one an empty value, a few
//    are large. The per-partition baseOffset of every send response tells the
//    exact offset of every record.
// 3. admin.fetchTopicOffsets must report low 0 and high == records produced
//    for each partition (ListOffsets only, no group APIs).
// 4. Unless `produce-only` is given: consume everything back and compare
//    record by record (partition, offset, key, value, headers, timestamp).
//
// kafkajs only has group consumers: there is no way to read records with
// plain kafkajs without the group coordinator APIs (FindCoordinator,
// JoinGroup, SyncGroup, Heartbeat, OffsetFetch/OffsetCommit, LeaveGroup), so
// step 4 uses a consumer with a unique groupId and fromBeginning: true.
// A check that verifies the records without groups is impossible at the
// kafkajs level; `produce-only` mode (steps 1-3) is the group-free subset.
//
// Exits 0 only if everything checked out.

'use strict'

const { Kafka, logLevel, CompressionTypes, Partitioners } = require('kafkajs')

const PARTITIONS = 2
const STEP_TIMEOUT_MS = 20000
const SENDS = [
  { codec: CompressionTypes.None, name: 'none', count: 200 },
  { codec: CompressionTypes.GZIP, name: 'gzip', count: 200 },
  { codec: CompressionTypes.None, name: 'none2', count: 100 },
]

class Failure extends Error {}
const fail = (msg) => { throw new Failure(msg) }
const log = (msg) => console.log(`[kafkajs] ${msg}`)

function makeRecord (seq, group, baseTs) {
  let key = Buffer.from(`${group}-key-${seq}`)
  let value = Buffer.concat([Buffer.from(`${group}-value-${seq}-`), Buffer.alloc(seq % 43, seq % 251)])
  let headers = [['seq', Buffer.from(String(seq))], ['group', Buffer.from(group)]]
  if (seq % 3 === 0) headers.push(['dup', Buffer.from('first')], ['dup', Buffer.from('second')])
  if (seq % 7 === 0) headers = []
  if (seq === 5) value = null // tombstone
  if (seq === 6) key = null
  if (seq === 8) value = Buffer.alloc(0)
  if (seq % 150 === 77) value = Buffer.alloc(90000, seq % 256)
  return { seq, key, value, headers, partition: (seq * 7 + (seq >> 3)) % PARTITIONS, timestamp: baseTs + seq }
}

// kafkajs message headers: an object; a repeated key is given as an array.
function toKafkajsHeaders (pairs) {
  const out = {}
  for (const [k, v] of pairs) {
    if (k in out) out[k] = [].concat(out[k], v)
    else out[k] = v
  }
  return out
}

// Back to an ordered list of [key, Buffer] pairs (order within one key kept).
function fromKafkajsHeaders (obj) {
  const out = []
  for (const k of Object.keys(obj || {})) {
    for (const v of [].concat(obj[k])) out.push([k, v === null || v === undefined ? null : Buffer.from(v)])
  }
  return out
}

function sameHeaders (got, want) {
  // Compare as ordered pairs, grouped by key in first-appearance order (that
  // is all the kafkajs object representation can preserve).
  const w = fromKafkajsHeaders(toKafkajsHeaders(want))
  if (got.length !== w.length) return false
  return got.every(([k, v], i) => k === w[i][0] &&
    (v === null ? w[i][1] === null : w[i][1] !== null && v.equals(w[i][1])))
}

function sameBuf (a, b) {
  if (a === null || b === null) return a === b
  return Buffer.from(a).equals(b)
}

function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Failure(`${what} timed out after ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

async function main () {
  const [bootstrap, topic, mode] = process.argv.slice(2)
  if (!bootstrap || !topic || (mode !== undefined && mode !== 'produce-only')) {
    console.error('usage: node roundtrip.js HOST:PORT TOPIC [produce-only]')
    return 2
  }
  const produceOnly = mode === 'produce-only'
  const started = Date.now()
  const kafka = new Kafka({
    clientId: 'weir-kafkajs-roundtrip',
    brokers: [bootstrap],
    logLevel: logLevel.ERROR,
    connectionTimeout: 5000,
    requestTimeout: STEP_TIMEOUT_MS,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
  })

  // --- admin ---------------------------------------------------------------
  const admin = kafka.admin()
  await withTimeout(admin.connect(), STEP_TIMEOUT_MS, 'admin.connect')
  const created = await withTimeout(admin.createTopics({
    topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
    waitForLeaders: true,
    timeout: 10000,
  }), STEP_TIMEOUT_MS, 'admin.createTopics')
  if (created !== true) fail(`createTopics returned ${created} (topic already existed?)`)
  const md = await withTimeout(admin.fetchTopicMetadata({ topics: [topic] }), STEP_TIMEOUT_MS,
    'admin.fetchTopicMetadata')
  const tmd = md.topics.find((t) => t.name === topic)
  if (!tmd) fail(`fetchTopicMetadata did not return ${topic}: ${JSON.stringify(md)}`)
  if (tmd.partitions.length !== PARTITIONS) fail(`fetchTopicMetadata: ${tmd.partitions.length} partitions, expected ${PARTITIONS}`)
  for (const p of tmd.partitions) {
    if (p.partitionErrorCode !== 0 || p.leader < 0) fail(`partition ${p.partitionId}: error ${p.partitionErrorCode} leader ${p.leader}`)
  }
  log(`created topic ${topic} with ${PARTITIONS} partitions`)

  // --- produce -------------------------------------------------------------
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  })
  await withTimeout(producer.connect(), STEP_TIMEOUT_MS, 'producer.connect')
  const baseTs = Date.now() - 3600000
  const expected = new Map() // "partition/offset" -> record
  const perPartition = new Array(PARTITIONS).fill(0)
  let seq = 0
  for (const s of SENDS) {
    const recs = []
    for (let i = 0; i < s.count; i++) recs.push(makeRecord(seq++, s.name, baseTs))
    const res = await withTimeout(producer.send({
      topic,
      acks: -1,
      timeout: 10000,
      compression: s.codec,
      messages: recs.map((r) => ({
        key: r.key,
        value: r.value,
        headers: toKafkajsHeaders(r.headers),
        partition: r.partition,
        timestamp: String(r.timestamp),
      })),
    }), STEP_TIMEOUT_MS, `producer.send (${s.name})`)
    // One response entry per partition in the request; records of that
    // partition got consecutive offsets from baseOffset in send order.
    const next = new Map()
    for (const r of res) {
      if (r.topicName !== topic || r.errorCode !== 0) fail(`send (${s.name}): bad response entry ${JSON.stringify(r)}`)
      const base = Number(r.baseOffset)
      if (!Number.isInteger(base) || base < 0) fail(`send (${s.name}): invalid baseOffset ${r.baseOffset}`)
      next.set(r.partition, base)
    }
    for (const r of recs) {
      if (!next.has(r.partition)) fail(`send (${s.name}): no response for partition ${r.partition}`)
      const off = next.get(r.partition)
      next.set(r.partition, off + 1)
      const id = `${r.partition}/${off}`
      if (expected.has(id)) fail(`send (${s.name}): offset ${id} assigned twice`)
      expected.set(id, r)
      perPartition[r.partition]++
    }
    log(`produced ${recs.length} records with compression ${s.name}`)
  }
  await producer.disconnect()

  // Offsets must be dense from 0: record counts == high watermarks.
  for (let p = 0; p < PARTITIONS; p++) {
    for (let o = 0; o < perPartition[p]; o++) {
      if (!expected.has(`${p}/${o}`)) fail(`acked offsets of partition ${p} are not 0..${perPartition[p] - 1} (missing ${o})`)
    }
  }
  const offsets = await withTimeout(admin.fetchTopicOffsets(topic), STEP_TIMEOUT_MS, 'admin.fetchTopicOffsets')
  for (let p = 0; p < PARTITIONS; p++) {
    const o = offsets.find((x) => x.partition === p)
    if (!o) fail(`fetchTopicOffsets has no partition ${p}: ${JSON.stringify(offsets)}`)
    if (Number(o.high) !== perPartition[p] || Number(o.low) !== 0) {
      fail(`partition ${p}: fetchTopicOffsets low/high ${o.low}/${o.high}, expected 0/${perPartition[p]}`)
    }
  }
  log(`fetchTopicOffsets ok: ${JSON.stringify(offsets.map((o) => [o.partition, o.low, o.high]))}`)
  await admin.disconnect()

  if (produceOnly) {
    log(`OK (produce-only): ${expected.size} records, per partition ${JSON.stringify(perPartition)}, ${((Date.now() - started) / 1000).toFixed(1)}s`)
    return 0
  }

  // --- consume (group consumer; see the header comment) ---------------------
  const consumer = kafka.consumer({
    groupId: `weir-rt-${topic}-${process.pid}`,
    sessionTimeout: 10000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 500,
    retry: { retries: 3 },
  })
  const problems = []
  const seen = new Set()
  const lastOffset = new Map()
  let crashed = null
  let resolveDone
  const done = new Promise((resolve) => { resolveDone = resolve })
  consumer.on(consumer.events.CRASH, (e) => { crashed = e.payload.error; resolveDone() })
  await withTimeout(consumer.connect(), STEP_TIMEOUT_MS, 'consumer.connect')
  await withTimeout(consumer.subscribe({ topics: [topic], fromBeginning: true }), STEP_TIMEOUT_MS, 'consumer.subscribe')
  await consumer.run({
    eachMessage: async ({ topic: t, partition, message }) => {
      const o = Number(message.offset)
      const id = `${partition}/${o}`
      const prev = lastOffset.get(partition)
      if (prev !== undefined && o <= prev) problems.push(`partition ${partition}: offset ${o} after ${prev} (not strictly increasing)`)
      lastOffset.set(partition, o)
      const r = expected.get(id)
      if (t !== topic || !r) {
        problems.push(`unexpected record ${t} ${id}`)
      } else if (seen.has(id)) {
        problems.push(`duplicate record ${id}`)
      } else {
        seen.add(id)
        if (!sameBuf(message.key, r.key)) problems.push(`seq ${r.seq} (${id}): key ${message.key} != ${r.key}`)
        if (!sameBuf(message.value, r.value)) {
          problems.push(`seq ${r.seq} (${id}): value differs (got ${message.value === null ? null : message.value.length} bytes, want ${r.value === null ? null : r.value.length})`)
        }
        const gotHeaders = fromKafkajsHeaders(message.headers)
        if (!sameHeaders(gotHeaders, r.headers)) problems.push(`seq ${r.seq} (${id}): headers ${JSON.stringify(gotHeaders.map(([k, v]) => [k, v && v.toString()]))} != ${JSON.stringify(r.headers.map(([k, v]) => [k, v.toString()]))}`)
        if (Number(message.timestamp) !== r.timestamp) problems.push(`seq ${r.seq} (${id}): timestamp ${message.timestamp} != ${r.timestamp}`)
      }
      if (seen.size === expected.size) resolveDone()
    },
  })
  let timer
  const timedOut = new Promise((resolve) => { timer = setTimeout(() => resolve(true), STEP_TIMEOUT_MS) })
  const didTimeOut = await Promise.race([done.then(() => false), timedOut])
  clearTimeout(timer)
  if (!didTimeOut && !crashed) await new Promise((resolve) => setTimeout(resolve, 1000)) // catch extras
  await withTimeout(consumer.disconnect(), STEP_TIMEOUT_MS, 'consumer.disconnect').catch((e) => problems.push(`consumer.disconnect: ${e.message}`))
  if (crashed) fail(`consumer crashed: ${crashed.name}: ${crashed.message}`)
  if (seen.size < expected.size) {
    const missing = [...expected.keys()].filter((k) => !seen.has(k))
    problems.push(`consumed only ${seen.size} of ${expected.size} records within ${STEP_TIMEOUT_MS} ms, missing e.g. ${missing.slice(0, 10).join(' ')}`)
  }
  if (problems.length) fail('record comparison failed:\n  ' + problems.slice(0, 20).join('\n  '))
  log(`OK: ${expected.size} records round-tripped, per partition ${JSON.stringify(perPartition)}, ${((Date.now() - started) / 1000).toFixed(1)}s`)
  return 0
}

// Hard stop so a hung client never blocks the caller.
const watchdog = setTimeout(() => {
  console.error('[kafkajs] FAIL: overall timeout (75 s)')
  process.exit(1)
}, 75000)

main().then((code) => {
  clearTimeout(watchdog)
  process.exit(code)
}, (e) => {
  if (e instanceof Failure) console.error(`[kafkajs] FAIL: ${e.message}`)
  else console.error(`[kafkajs] FAIL: unexpected ${e && e.name}: ${e && e.stack}`)
  process.exit(1)
})
