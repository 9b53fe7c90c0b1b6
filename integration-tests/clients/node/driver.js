#!/usr/bin/env node
// kafkajs driver of the client compatibility matrix: runs every scenario of
// ../SCENARIOS.md against one broker and prints one RESULT line per scenario.
// Record sets and checks mirror ../python/matrix.py.
//
// Usage: node driver.js BOOTSTRAP PREFIX
//
// kafkajs ships GZIP only; Snappy and LZ4 come from the kafkajs-snappy and
// kafkajs-lz4 codec packages, ZSTD from a small adapter over zstd-codec
// (the official @kafkajs/zstd needs cppzst, whose native build fails with
// Node 20 headers). All three are pinned in package.json.

'use strict'

const { Kafka, logLevel, CompressionTypes, CompressionCodecs, Partitioners, ConfigResourceTypes } = require('kafkajs')
const { STEP_MS, Unsupported, fail, sleep, step, toStderr, report, runCheck, ...common } = require('./common')

const SCENARIOS = [
  'create_topics', 'describe_topics', 'describe_configs', 'create_partitions',
  'describe_cluster', 'delete_topics',
  'keys_headers_nulls', 'codec_none', 'codec_gzip', 'codec_snappy', 'codec_lz4',
  'codec_zstd', 'acks_0', 'acks_1', 'acks_all', 'idempotent',
  'assign_seek', 'offsets_for_times', 'group_commit', 'committed_offsets',
  'transactions', 'send_offsets_to_transaction',
]
const NEEDS = {
  describe_topics: 'create_topics',
  describe_configs: 'create_topics',
  create_partitions: 'create_topics',
  delete_topics: 'create_topics',
  committed_offsets: 'group_commit',
}
const DRIVER_MS = 120000
// CreateTime of the records that carry explicit timestamps: an hour ago, whole seconds.
const T0 = (Math.floor(Date.now() / 1000) - 3600) * 1000

// --- records (as matrix.py) ----------------------------------------------------

const B = (s) => Buffer.from(s)
const rec = (key, value, headers = [], timestamp = null) => ({ key, value, headers, timestamp })

function keyedRecords (tag, n, baseTs = null) {
  return Array.from({ length: n }, (_, i) =>
    rec(B(`${tag}-key-${i}`), B(`${tag}-value-${i}`), [], baseTs === null ? null : baseTs + i * 1000))
}

function trickyRecords ({ nullHeaderValues = true, timestamps = true } = {}) {
  const out = []
  for (let i = 0; i < 30; i++) {
    let key = B(`key-${i}`)
    let value = Buffer.concat([B(`value-${i}-`), Buffer.alloc(i, (i * 7) % 256)])
    let headers = []
    if (i % 3 !== 0) {
      headers = [['seq', B(String(i))], ['dup', B('first')], ['dup', B('second')]]
      if (i % 4 === 1 && nullHeaderValues) headers.push(['null-value', null])
    }
    if (i === 3) key = null
    if (i === 4) value = null
    if (i === 5) value = Buffer.alloc(0)
    out.push(rec(key, value, headers, timestamps ? T0 + i : null))
  }
  return out
}

// kafkajs headers are an object; a repeated key carries an array of values.
function toHeaders (pairs) {
  const out = {}
  for (const [k, v] of pairs) out[k] = k in out ? [].concat(out[k], [v]) : v
  return out
}
function fromHeaders (obj) {
  const out = []
  for (const k of Object.keys(obj || {})) {
    for (const v of Array.isArray(obj[k]) ? obj[k] : [obj[k]]) out.push([k, v == null ? null : Buffer.from(v)])
  }
  return out
}

const sameBuf = (a, b) => (a == null || b == null) ? a == b : Buffer.from(a).equals(Buffer.from(b)) // eslint-disable-line eqeqeq
const short = (v) => v == null ? 'null' : `${v.length} bytes ${JSON.stringify(v.subarray(0, 20).toString('latin1'))}`
const showHeaders = (h) => JSON.stringify(h.map(([k, v]) => [k, v == null ? null : v.toString('latin1')]))
const sameHeaders = (a, b) => a.length === b.length && a.every(([k, v], i) => k === b[i][0] && sameBuf(v, b[i][1]))

function problemsLine (problems) {
  if (problems.length) fail(problems.slice(0, 5).join('; ') + (problems.length > 5 ? ` (+${problems.length - 5} more)` : ''))
}

// All of `sent` (in send order) must be `got` on one partition at consecutive
// offsets from firstOffset, field by field, with nothing extra.
function compare (sent, got, { partition = 0, firstOffset = 0 } = {}) {
  got = [...got].sort((a, b) => a.partition - b.partition || a.offset - b.offset)
  const problems = []
  if (got.length !== sent.length) problems.push(`got ${got.length} records, sent ${sent.length}`)
  for (let i = 0; i < Math.min(got.length, sent.length); i++) {
    const want = sent[i]
    const have = got[i]
    const where = `record ${i}`
    if (have.partition !== partition || have.offset !== firstOffset + i) problems.push(`${where}: at ${have.partition}/${have.offset}, want ${partition}/${firstOffset + i}`)
    if (!sameBuf(have.key, want.key)) problems.push(`${where}: key ${short(have.key)} != ${short(want.key)}`)
    if (!sameBuf(have.value, want.value)) problems.push(`${where}: value ${short(have.value)} != ${short(want.value)}`)
    if (!sameHeaders(have.headers, want.headers)) problems.push(`${where}: headers ${showHeaders(have.headers)} != ${showHeaders(want.headers)}`)
    if (want.timestamp !== null && have.timestamp !== want.timestamp) problems.push(`${where}: timestamp ${have.timestamp} != ${want.timestamp}`)
  }
  problemsLine(problems)
}

// For reads across partitions (groups): every sent record arrives once, by key.
function compareExactlyOnce (sent, got) {
  const want = new Map(sent.map((r) => [r.key.toString('latin1'), r]))
  const seen = new Set()
  for (const r of got) {
    const k = r.key == null ? null : r.key.toString('latin1')
    if (seen.has(k)) fail(`record ${k} received twice`)
    seen.add(k)
    const w = want.get(k)
    if (!w) fail(`unexpected record ${k} at ${r.partition}/${r.offset}`)
    if (!sameBuf(r.value, w.value)) fail(`record ${k}: value ${short(r.value)} != ${short(w.value)}`)
  }
  const missing = [...want.keys()].filter((k) => !seen.has(k))
  if (missing.length) fail(`${missing.length} of ${sent.length} records never received, e.g. ${missing.slice(0, 3).join(' ')}`)
}

// --- client helpers --------------------------------------------------------------

// Polls check() until it returns a truthy value; fails with `what` and the last answer.
async function waitUntil (what, check, ms = STEP_MS) {
  const deadline = Date.now() + ms
  let last
  for (;;) {
    try {
      const result = await step(check(), what)
      if (result) return result
      last = result
    } catch (e) {
      last = `${e.name}: ${e.message}`
    }
    if (Date.now() > deadline) fail(`${what} not true after ${ms / 1000}s (last: ${JSON.stringify(last)})`)
    await sleep(200)
  }
}

let kafka, admin, prefix, bootstrap
let groupSeq = 0

const createTopic = (topic, numPartitions = 1, configEntries = []) => common.createTopic(admin, { topic, numPartitions, configEntries }, 10000)

async function withProducer (options, fn) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false, ...options })
  await step(producer.connect(), 'producer.connect')
  try {
    return await fn(producer)
  } finally {
    await step(producer.disconnect(), 'producer.disconnect').catch((e) => process.stderr.write(`producer.disconnect: ${e.message}\n`))
  }
}

const toMessage = (r, partition = 0) => ({
  key: r.key,
  value: r.value,
  headers: toHeaders(r.headers),
  partition,
  ...(r.timestamp === null ? {} : { timestamp: String(r.timestamp) }),
})

// Sends `records` to partition 0 of `topic` in one request; returns the ack entries.
function send (producer, topic, records, { acks = -1, compression = CompressionTypes.None } = {}) {
  return step(producer.send({ topic, acks, compression, timeout: 10000, messages: records.map((r) => toMessage(r)) }), `send to ${topic}`)
}

function checkAck (res, topic, partition, baseOffset) {
  const e = (res || []).find((x) => x.topicName === topic && x.partition === partition)
  if (!e) fail(`no ack entry for ${topic}/${partition}: ${JSON.stringify(res)}`)
  if (e.errorCode !== 0 || Number(e.baseOffset) !== baseOffset) fail(`ack for ${topic}/${partition}: ${JSON.stringify(e)}, want baseOffset ${baseOffset}`)
}

// A group consumer (kafkajs has no other kind) reads `topic` until `count`
// records arrived. With seek, partition 0 is read from that offset; with
// commit, the next offsets are committed explicitly before leaving.
// readUncommitted: false (kafkajs' default) is isolation.level read_committed.
async function consume (topic, count, { groupId = `${prefix}-read-${++groupSeq}`, seek = null, commit = false, readUncommitted = false } = {}) {
  const consumer = kafka.consumer({ groupId, readUncommitted, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 200, retry: { retries: 3 } })
  const got = []
  let crashed = null
  let done
  const finished = new Promise((resolve) => { done = resolve })
  consumer.on(consumer.events.CRASH, (e) => { crashed = e.payload.error; done() })
  await step(consumer.connect(), 'consumer.connect')
  try {
    await step(consumer.subscribe({ topics: [topic], fromBeginning: true }), 'consumer.subscribe')
    await step(consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message: m }) => {
        got.push({
          partition,
          offset: Number(m.offset),
          key: m.key,
          value: m.value,
          headers: fromHeaders(m.headers),
          timestamp: Number(m.timestamp),
        })
        if (got.length >= count) done()
      },
    }), 'consumer.run')
    if (seek !== null) consumer.seek({ topic, partition: 0, offset: String(seek) })
    await step(finished, `consuming ${count} records from ${topic}`).catch((e) => fail(`${e.message}: got ${got.length}`))
    if (crashed) fail(`consumer crashed: ${crashed.name}: ${crashed.message}`)
    if (commit) {
      const next = new Map()
      for (const r of got) next.set(r.partition, Math.max(next.get(r.partition) || 0, r.offset + 1))
      await step(consumer.commitOffsets([...next].map(([partition, o]) => ({ topic, partition, offset: String(o) }))), 'consumer.commitOffsets')
    }
  } finally {
    await step(consumer.disconnect(), 'consumer.disconnect').catch((e) => process.stderr.write(`consumer.disconnect: ${e.message}\n`))
  }
  return got
}

// The partition's offsets: low and high watermark, as numbers.
async function watermarks (topic, partition = 0) {
  const offs = await step(admin.fetchTopicOffsets(topic), `fetchTopicOffsets ${topic}`)
  const o = offs.find((x) => x.partition === partition)
  if (!o) fail(`fetchTopicOffsets ${topic}: no partition ${partition}`)
  return [Number(o.low), Number(o.high)]
}

// Produce `records` to a fresh 1-partition topic, read them back, compare; the
// high watermark rules out extra records behind the ones read.
async function roundTrip (topic, records, sendOptions = {}, producerOptions = {}) {
  await createTopic(topic)
  await withProducer(producerOptions, async (p) => {
    const res = await send(p, topic, records, sendOptions)
    if (sendOptions.acks !== 0) checkAck(res, topic, 0, 0)
  })
  compare(records, await consume(topic, records.length))
  const [, high] = await watermarks(topic)
  if (high !== records.length) fail(`high watermark ${high}, sent ${records.length}`)
}

// --- scenarios -------------------------------------------------------------------

const adminTopic = () => `${prefix}-admin`

async function partitionIds (topic) {
  const md = await admin.fetchTopicMetadata({ topics: [topic] })
  const t = md.topics.find((x) => x.name === topic)
  return t ? t.partitions.map((p) => p.partitionId).sort((a, b) => a - b) : null
}

const codec = (name, type) => async () => {
  if (type !== CompressionTypes.None && !CompressionCodecs[type]) throw new Unsupported(`kafkajs has no ${name} codec installed`)
  const before = { ...codecCalls[type] }
  await roundTrip(`${prefix}-codec-${name}`, keyedRecords(`codec-${name}`, 50), { compression: type })
  if (type === CompressionTypes.None) return '50 keyed records without compression round-tripped'
  // The batch went out compressed and came back compressed with the same codec.
  const calls = codecCalls[type]
  if (calls.compress === before.compress || calls.decompress === before.decompress) {
    fail(`the ${name} codec was not used both ways (compress ${calls.compress - before.compress}, decompress ${calls.decompress - before.decompress} times)`)
  }
  return `50 keyed records round-tripped in ${name}-compressed batches`
}

const acks = (name, value) => async () => {
  await roundTrip(`${prefix}-acks-${name}`, keyedRecords(`acks-${name}`, 50), { acks: value })
  return `50 keyed records with acks=${value} round-tripped`
}

const scenarios = {
  async create_topics () {
    const topic = adminTopic()
    await createTopic(topic, 3, [{ name: 'retention.ms', value: '3600000' }])
    // kafkajs maps TOPIC_ALREADY_EXISTS (from every partition's error) to `false`.
    const again = await step(admin.createTopics({ topics: [{ topic, numPartitions: 3 }], timeout: 10000 }), 'second createTopics')
    if (again !== false) fail(`second createTopics returned ${again}, want false (TOPIC_ALREADY_EXISTS)`)
    return `created ${topic} with 3 partitions; second create reported TOPIC_ALREADY_EXISTS`
  },

  async describe_topics () {
    const topic = adminTopic()
    const [md, cluster] = await Promise.all([
      step(admin.fetchTopicMetadata({ topics: [topic] }), 'fetchTopicMetadata'),
      step(admin.describeCluster(), 'describeCluster'),
    ])
    const t = md.topics.find((x) => x.name === topic)
    if (!t) fail(`${topic} missing from metadata`)
    const brokers = cluster.brokers.map((b) => b.nodeId)
    const ids = t.partitions.map((p) => p.partitionId).sort((a, b) => a - b)
    if (ids.join() !== '0,1,2') fail(`partitions ${ids}, want 0,1,2`)
    for (const p of t.partitions) {
      if (p.partitionErrorCode !== 0 || !brokers.includes(p.leader)) fail(`partition ${p.partitionId}: error ${p.partitionErrorCode}, leader ${p.leader} not in brokers ${brokers}`)
    }
    return `partitions 0,1,2 with leaders in ${JSON.stringify(brokers)}`
  },

  async describe_configs () {
    const res = await step(admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: adminTopic() }], includeSynonyms: false }), 'describeConfigs')
    const r = res.resources[0]
    if (!r || r.errorCode !== 0) fail(`describeConfigs: ${JSON.stringify(r)}`)
    const get = (n) => (r.configEntries.find((e) => e.configName === n) || {}).configValue
    if (get('retention.ms') !== '3600000' || get('cleanup.policy') !== 'delete') {
      fail(`retention.ms=${get('retention.ms')} cleanup.policy=${get('cleanup.policy')}, want 3600000 and delete`)
    }
    return 'retention.ms=3600000 cleanup.policy=delete'
  },

  async create_partitions () {
    const topic = adminTopic()
    await step(admin.createPartitions({ topicPartitions: [{ topic, count: 5 }], timeout: 10000 }), 'createPartitions')
    await waitUntil('metadata shows partitions 0..4', async () => (await partitionIds(topic) || []).join() === '0,1,2,3,4')
    return 'grew to 5 partitions; metadata shows 0..4'
  },

  async describe_cluster () {
    const c = await step(admin.describeCluster(), 'describeCluster')
    const [host, port] = [bootstrap.slice(0, bootstrap.lastIndexOf(':')), Number(bootstrap.slice(bootstrap.lastIndexOf(':') + 1))]
    if (c.brokers.length !== 1 || c.brokers[0].host !== host || c.brokers[0].port !== port) {
      fail(`brokers ${JSON.stringify(c.brokers)}, want exactly one at ${bootstrap}`)
    }
    if (!c.clusterId) fail(`empty cluster id (${JSON.stringify(c)})`)
    return `one broker ${c.brokers[0].nodeId} at ${bootstrap}, cluster id ${c.clusterId}`
  },

  async delete_topics () {
    const topic = adminTopic()
    await step(admin.deleteTopics({ topics: [topic], timeout: 10000 }), 'deleteTopics')
    await waitUntil(`${topic} gone from listTopics`, async () => !(await admin.listTopics()).includes(topic), 10000)
    return `${topic} deleted and gone from the topic list`
  },

  async keys_headers_nulls () {
    // kafkajs cannot send a null header value (sizing the record calls
    // Buffer.byteLength(null) and throws), so the records carry none.
    const records = trickyRecords({ nullHeaderValues: false, timestamps: true })
    await roundTrip(`${prefix}-records`, records)
    return '30 records: null key, null/empty value, repeated header key (no null header value: kafkajs cannot send one), CreateTime timestamps'
  },

  codec_none: codec('none', CompressionTypes.None),
  codec_gzip: codec('gzip', CompressionTypes.GZIP),
  codec_snappy: codec('snappy', CompressionTypes.Snappy),
  codec_lz4: codec('lz4', CompressionTypes.LZ4),
  codec_zstd: codec('zstd', CompressionTypes.ZSTD),
  acks_0: acks('0', 0),
  acks_1: acks('1', 1),
  acks_all: acks('all', -1),

  async idempotent () {
    const topic = `${prefix}-idempotent`
    const records = keyedRecords('idempotent', 200)
    await createTopic(topic)
    await withProducer({ idempotent: true, maxInFlightRequests: 1 }, async (p) => {
      for (let i = 0; i < 200; i += 20) checkAck(await send(p, topic, records.slice(i, i + 20), { acks: -1 }), topic, 0, i)
    })
    compare(records, await consume(topic, 200))
    const [, high] = await watermarks(topic)
    if (high !== 200) fail(`high watermark ${high}, sent 200`)
    return '200 records in 10 idempotent sends acked at offsets 0..199, read back once each'
  },

  assign_seek: 'kafkajs has only group consumers: no manual partition assignment without a group',

  async offsets_for_times () {
    const topic = `${prefix}-times`
    const records = keyedRecords('times', 10, T0)
    await createTopic(topic)
    await withProducer({}, async (p) => checkAck(await send(p, topic, records), topic, 0, 0))
    const at = async (ts) => {
      const res = await step(admin.fetchTopicOffsetsByTimestamp(topic, ts), `fetchTopicOffsetsByTimestamp ${ts}`)
      const o = res.find((x) => x.partition === 0)
      if (!o) fail(`no partition 0 in ${JSON.stringify(res)}`)
      return Number(o.offset)
    }
    const found = await at(T0 + 4500)
    if (found !== 5) fail(`offset for T0+4500 is ${found}, want 5`)
    // kafkajs replaces "none" (-1) with the partition's end offset.
    const none = await at(T0 + 100000)
    if (none !== -1 && none !== 10) fail(`offset for T0+100000 is ${none}, want none (-1 or end offset 10)`)
    compare(records.slice(5), await consume(topic, 5, { seek: found }), { firstOffset: 5 })
    return `offset for T0+4500 is 5, for T0+100000 none (${none}); read 5..9 from there`
  },

  async group_commit () {
    const topic = `${prefix}-group`
    const records = keyedRecords('group', 40)
    await createTopic(topic, 2)
    await withProducer({}, async (p) => {
      const res = await step(p.send({ topic, acks: -1, messages: records.map((r, i) => toMessage(r, i % 2)) }), 'send')
      checkAck(res, topic, 0, 0)
      checkAck(res, topic, 1, 0)
    })
    compareExactlyOnce(records, await consume(topic, 40, { groupId: `${prefix}-group`, commit: true }))
    return '40 records on 2 partitions received once by group member, offsets committed explicitly'
  },

  async committed_offsets () {
    const topic = `${prefix}-group`
    const res = await step(admin.fetchOffsets({ groupId: `${prefix}-group`, topics: [topic] }), 'fetchOffsets')
    const t = res.find((x) => x.topic === topic)
    if (!t) fail(`fetchOffsets has no ${topic}: ${JSON.stringify(res)}`)
    const problems = []
    for (const p of [0, 1]) {
      const [, high] = await watermarks(topic, p)
      const c = t.partitions.find((x) => x.partition === p)
      if (!c || Number(c.offset) !== high) problems.push(`partition ${p}: committed ${c && c.offset}, end offset ${high}`)
    }
    problemsLine(problems)
    return `committed offsets ${JSON.stringify(t.partitions.map((x) => [x.partition, Number(x.offset)]))} equal the end offsets`
  },
}

// --- transactions ----------------------------------------------------------------

// Records tag0..tag9 (key = value), and the same records with their values upper-cased.
const txnRecords = (tag) => Array.from({ length: 10 }, (_, i) => rec(B(`${tag}${i}`), B(`${tag}${i}`)))
const upper = (records) => records.map((r) => rec(r.key, B(r.value.toString().toUpperCase())))
const values = (got) => JSON.stringify(got.slice(0, 12).map((r) => r.value && r.value.toString())) + (got.length > 12 ? '...' : '')

// Reads of transactional records: control records take offsets too, so `got`
// (in the order received) must be `sent` in order on partition 0 at strictly
// increasing offsets; with `acked` (offsets in send order), exactly at those.
function compareInOrder (sent, got, acked = null) {
  const problems = []
  if (got.length !== sent.length) problems.push(`got ${got.length} records ${values(got)}, want ${sent.length} ${values(sent)}`)
  for (let i = 0; i < Math.min(got.length, sent.length); i++) {
    const want = sent[i]
    const have = got[i]
    const where = `record ${i} (${want.value})`
    if (have.partition !== 0) problems.push(`${where}: on partition ${have.partition}, want 0`)
    if (acked && have.offset !== acked[i]) problems.push(`${where}: at offset ${have.offset}, acked at ${acked[i]}`)
    if (i > 0 && have.offset <= got[i - 1].offset) problems.push(`${where}: offset ${have.offset} after ${got[i - 1].offset}`)
    if (!sameBuf(have.key, want.key)) problems.push(`${where}: key ${short(have.key)} != ${short(want.key)}`)
    if (!sameBuf(have.value, want.value)) problems.push(`${where}: value ${short(have.value)} != ${short(want.value)}`)
    if (!sameHeaders(have.headers, want.headers)) problems.push(`${where}: headers ${showHeaders(have.headers)} != ${showHeaders(want.headers)}`)
  }
  problemsLine(problems)
}

// The offsets of `records` sent to partition 0 in one request, from its ack.
function ackedOffsets (res, topic, records) {
  const e = (res || []).find((x) => x.topicName === topic && x.partition === 0)
  if (!e || e.errorCode !== 0) fail(`ack for ${topic}/0: ${JSON.stringify(res)}`)
  return records.map((_, i) => Number(e.baseOffset) + i)
}

// A transactional producer: kafkajs needs idempotence and one request in flight.
const txnProducerOptions = (transactionalId) => ({ transactionalId, idempotent: true, maxInFlightRequests: 1 })

async function endTransaction (txn, commit) {
  if (commit) await step(txn.commit(), 'transaction.commit')
  else await step(txn.abort(), 'transaction.abort')
}

// One group member that keeps running while the test goes on: `got` fills as
// records arrive, `waitFor(n)` waits until n have.
async function runningConsumer (topic, groupId) {
  const consumer = kafka.consumer({ groupId, readUncommitted: false, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 200, retry: { retries: 3 } })
  const got = []
  let crashed = null
  consumer.on(consumer.events.CRASH, (e) => { crashed = e.payload.error })
  await step(consumer.connect(), 'consumer.connect')
  await step(consumer.subscribe({ topics: [topic], fromBeginning: true }), 'consumer.subscribe')
  await step(consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message: m }) => {
      got.push({ partition, offset: Number(m.offset), key: m.key, value: m.value, headers: fromHeaders(m.headers), timestamp: Number(m.timestamp) })
    },
  }), 'consumer.run')
  const waitFor = async (n) => {
    await waitUntil(`${n} records of ${topic} in group ${groupId}`, async () => got.length >= n || crashed)
      .catch((e) => fail(`${e.message}: got ${got.length}`))
    if (crashed) fail(`consumer crashed: ${crashed.name}: ${crashed.message}`)
    await sleep(500) // extra or duplicate records show up too
    return got.slice()
  }
  return { consumer, got, waitFor }
}

async function committedOffset (groupId, topic) {
  const res = await step(admin.fetchOffsets({ groupId, topics: [topic] }), 'fetchOffsets')
  const t = res.find((x) => x.topic === topic)
  const p = t && t.partitions.find((x) => x.partition === 0)
  return p ? Number(p.offset) : null
}

scenarios.transactions = async () => {
  const topic = `${prefix}-txn`
  await createTopic(topic)
  const batches = [[txnRecords('a'), true], [txnRecords('b'), false], [txnRecords('c'), true]]
  const acked = []
  await withProducer(txnProducerOptions(topic), async (p) => {
    for (const [records, commit] of batches) {
      const txn = await step(p.transaction(), 'producer.transaction')
      const res = await step(txn.send({ topic, acks: -1, timeout: 10000, messages: records.map((r) => toMessage(r)) }), `transactional send to ${topic}`)
      acked.push(...ackedOffsets(res, topic, records))
      await endTransaction(txn, commit)
    }
  })
  const sent = batches.flatMap(([records]) => records)
  const committed = batches.filter(([, commit]) => commit).flatMap(([records]) => records)
  const got = await consume(topic, 20)
  compareInOrder(committed, got, [...acked.slice(0, 10), ...acked.slice(20)])
  compareInOrder(sent, await consume(topic, 30, { readUncommitted: true }), acked)
  return `a0..a9 committed, b0..b9 aborted, c0..c9 committed (acked offsets ${acked[0]}..${acked[29]}); ` +
    `read_committed got exactly a*, c* (offsets ${got[0].offset}..${got[9].offset}, ${got[10].offset}..${got[19].offset}), read_uncommitted all 30 in order`
}

scenarios.send_offsets_to_transaction = async () => {
  const groupId = `${prefix}-eos`
  const src = `${prefix}-eos-in`
  const dst = `${prefix}-eos-out`
  await createTopic(src)
  await createTopic(dst)
  const first = keyedRecords('eos', 10)
  const more = keyedRecords('eos-more', 5)
  await withProducer({}, async (p) => checkAck(await send(p, src, first), src, 0, 0))
  const { consumer, waitFor } = await runningConsumer(src, groupId)
  let outAcks
  try {
    await withProducer(txnProducerOptions(groupId), async (p) => {
      // Consumes up to `upTo` records, writes the new ones upper-cased and sends
      // the next offset in one transaction (kafkajs takes the group id only).
      const processRecords = async (records, commit, firstOffset) => {
        const got = (await waitFor(firstOffset + records.length)).slice(firstOffset)
        compare(records, got, { firstOffset })
        const next = got[got.length - 1].offset + 1
        const txn = await step(p.transaction(), 'producer.transaction')
        const res = await step(txn.send({ topic: dst, acks: -1, timeout: 10000, messages: upper(records).map((r) => toMessage(r)) }), `transactional send to ${dst}`)
        const acks = ackedOffsets(res, dst, records)
        await step(txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: src, partitions: [{ partition: 0, offset: String(next) }] }] }), 'transaction.sendOffsets')
        await endTransaction(txn, commit)
        return acks
      }
      outAcks = await processRecords(first, true, 0)
      let seen
      await waitUntil(`committed offset of ${src}/0 is 10`, async () => (seen = await committedOffset(groupId, src)) === 10)
        .catch((e) => fail(`${e.message}: committed ${seen}`))
      compareInOrder(upper(first), await consume(dst, 10), outAcks)
      await withProducer({}, async (plain) => checkAck(await send(plain, src, more), src, 0, 10))
      await processRecords(more, false, 10)
    })
  } finally {
    await step(consumer.disconnect(), 'consumer.disconnect').catch((e) => process.stderr.write(`consumer.disconnect: ${e.message}\n`))
  }
  compareInOrder(upper(first), await consume(dst, 10), outAcks)
  const afterAbort = await committedOffset(groupId, src)
  if (afterAbort !== 10) fail(`after the aborted transaction (offsets at 15) the committed offset is ${afterAbort}, want 10`)
  return '10 records consumed, written upper-cased + offsets (next offset 10, group id: kafkajs takes no group metadata) committed in a transaction: ' +
    'committed offset 10, read_committed output = those 10; 5 more in an aborted transaction: committed offset still 10, output still those 10'
}

// --- codecs ----------------------------------------------------------------------

function registerCodecs () {
  try {
    CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')
  } catch (e) { process.stderr.write(`kafkajs-snappy: ${e.message}\n`) }
  try {
    const LZ4 = require('kafkajs-lz4')
    CompressionCodecs[CompressionTypes.LZ4] = new LZ4().codec
  } catch (e) { process.stderr.write(`kafkajs-lz4: ${e.message}\n`) }
  // zstd-codec is WebAssembly, initialised asynchronously.
  return new Promise((resolve) => {
    try {
      require('zstd-codec').ZstdCodec.run((zstd) => {
        const z = new zstd.Streaming()
        CompressionCodecs[CompressionTypes.ZSTD] = () => ({
          compress: async (encoder) => Buffer.from(z.compress(encoder.buffer)),
          decompress: async (buffer) => Buffer.from(z.decompress(buffer)),
        })
        resolve()
      })
    } catch (e) {
      process.stderr.write(`zstd-codec: ${e.message}\n`)
      resolve()
    }
  })
}

// Counts each codec's calls, so codec scenarios know their batches really were compressed.
const codecCalls = {}
function countCodecCalls () {
  for (const type of Object.keys(CompressionCodecs)) {
    const make = CompressionCodecs[type]
    const calls = codecCalls[type] = { compress: 0, decompress: 0 }
    CompressionCodecs[type] = () => {
      const c = make()
      return {
        compress: (encoder) => { calls.compress++; return c.compress(encoder) },
        decompress: (buffer) => { calls.decompress++; return c.decompress(buffer) },
      }
    }
  }
}

// --- runner ----------------------------------------------------------------------

async function main () {
  if (process.argv.length !== 4) {
    process.stderr.write('usage: node driver.js BOOTSTRAP PREFIX\n')
    process.exit(2)
  }
  [bootstrap, prefix] = process.argv.slice(2)
  setTimeout(() => {
    process.stderr.write(`[kafkajs] driver timed out after ${DRIVER_MS / 1000}s\n`)
    process.exit(3)
  }, DRIVER_MS).unref()
  await registerCodecs()
  countCodecCalls()
  kafka = new Kafka({
    clientId: 'weir-matrix-kafkajs',
    brokers: [bootstrap],
    logLevel: logLevel.WARN,
    logCreator: toStderr,
    connectionTimeout: 5000,
    requestTimeout: STEP_MS,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
  })
  admin = kafka.admin()
  const passed = new Set()
  let connected = null
  for (const id of SCENARIOS) {
    const impl = scenarios[id] || 'not implemented by this driver'
    if (typeof impl === 'string') { report(id, 'UNSUPPORTED', impl); continue }
    if (NEEDS[id] && !passed.has(NEEDS[id])) { report(id, 'FAIL', `needs ${NEEDS[id]}`); continue }
    const check = async () => {
      if (connected === null) connected = step(admin.connect(), 'admin.connect')
      await connected
      return impl()
    }
    if (await runCheck(id, check)) passed.add(id)
  }
  await step(admin.disconnect(), 'admin.disconnect', 5000).catch(() => {})
  process.exit(0)
}

main().catch((e) => {
  process.stderr.write(`[kafkajs] driver crashed: ${e && e.stack}\n`)
  process.exit(1)
})
