#!/usr/bin/env node
// Transactions with kafkajs 2.2.4, for tests/transactions.rs (one broker and the 3-broker
// cluster). Prints one `RESULT <id> PASS|FAIL <detail>` line per check (the contract of
// ../SCENARIOS.md) and exits 0. Topics are PREFIX-<check> with REPLICATION replicas (default 1).
//
// - commit: records sent in a transaction and committed are read once each by a
//   readUncommitted:false consumer.
// - abort: an aborted transaction's records never reach a readUncommitted:false consumer (a
//   readUncommitted:true one sees them); a later committed transaction is visible.
// - send_offsets: transaction.sendOffsets (AddOffsetsToTxn + TxnOffsetCommit of two partitions;
//   kafkajs sends no group generation) moves the group's committed offsets only when the
//   transaction commits; an aborted one leaves them unchanged.
//
// Usage: node txn.js BOOTSTRAP PREFIX [REPLICATION]

'use strict'

const { Kafka, logLevel } = require('kafkajs')

const { STEP_MS, fail, sleep, step, toStderr, runCheck, ...common } = require('./common')

const DRIVER_MS = 140000

let kafka, admin, prefix, replication
let readerSeq = 0

const createTopic = (topic, numPartitions = 1) => common.createTopic(admin, { topic, numPartitions, replicationFactor: replication }, 15000)

const records = (tag, n) => Array.from({ length: n }, (_, i) => ({ key: `${tag}-k${i}`, value: `${tag}-v${i}` }))

async function transactionalProducer (transactionalId) {
  const producer = kafka.producer({ transactionalId, maxInFlightRequests: 1, idempotent: true, allowAutoTopicCreation: false })
  await step(producer.connect(), 'producer.connect')
  return producer
}

// A group consumer (kafkajs has no other kind) reading `topic` from the beginning until `want`
// records arrived, then for `settleMs` more (extra or duplicate records show up too).
async function read (topic, want, { readUncommitted = false, settleMs = 1500 } = {}) {
  const consumer = kafka.consumer({
    groupId: `${prefix}-reader-${++readerSeq}`,
    readUncommitted,
    sessionTimeout: 10000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 200,
  })
  const got = []
  let reached
  const enough = new Promise((resolve) => { reached = resolve })
  await step(consumer.connect(), 'consumer.connect')
  try {
    await step(consumer.subscribe({ topics: [topic], fromBeginning: true }), 'consumer.subscribe')
    await step(consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        got.push({ partition, offset: Number(message.offset), key: message.key.toString(), value: message.value.toString() })
        if (got.length >= want) reached()
      },
    }), 'consumer.run')
    if (want > 0) await step(enough, `reading ${want} records from ${topic}`).catch((e) => fail(`${e.message}: got ${got.length}`))
    await sleep(settleMs)
  } finally {
    await step(consumer.disconnect(), 'consumer.disconnect').catch((e) => process.stderr.write(`consumer.disconnect: ${e.message}\n`))
  }
  return got
}

function expectExactly (got, want, what) {
  const seen = new Set()
  for (const r of got) {
    if (seen.has(r.key)) fail(`${what}: ${r.key} read twice`)
    seen.add(r.key)
  }
  const have = got.map((r) => `${r.key}=${r.value}`).sort()
  const expected = want.map((r) => `${r.key}=${r.value}`).sort()
  if (JSON.stringify(have) !== JSON.stringify(expected)) {
    const extra = have.filter((x) => !expected.includes(x))
    const missing = expected.filter((x) => !have.includes(x))
    fail(`${what}: read ${have.length} records, want ${expected.length}; extra ${extra.slice(0, 3)}, missing ${missing.slice(0, 3)}`)
  }
}

// The group's committed offsets of partitions 0 and 1 of `topic`, as "p0,p1" (-1: none).
async function groupOffsets (groupId, topic) {
  const res = await step(admin.fetchOffsets({ groupId, topics: [topic] }), `fetchOffsets ${groupId}`)
  const t = res.find((x) => x.topic === topic)
  if (!t) fail(`fetchOffsets ${groupId} returned no entry for ${topic}: ${JSON.stringify(res)}`)
  const at = (p) => { const e = t.partitions.find((x) => x.partition === p); return e ? Number(e.offset) : 'missing' }
  return `${at(0)},${at(1)}`
}

// --- checks ----------------------------------------------------------------------------------

const checks = {
  async commit () {
    const topic = `${prefix}-commit`
    await createTopic(topic, 2)
    const producer = await transactionalProducer(`${topic}-txn`)
    try {
      const want = records('c', 30)
      const txn = await step(producer.transaction(), 'producer.transaction')
      await step(txn.send({ topic, acks: -1, messages: want }), 'txn.send')
      await step(txn.commit(), 'txn.commit')
      const got = await read(topic, want.length)
      expectExactly(got, want, 'readUncommitted:false')
      const partitions = new Set(got.map((r) => r.partition))
      if (partitions.size !== 2) fail(`records on partitions ${[...partitions]}, want both`)
      return `${want.length} records over 2 partitions committed, read once each`
    } finally {
      await producer.disconnect().catch(() => {})
    }
  },

  async abort () {
    const topic = `${prefix}-abort`
    await createTopic(topic)
    const producer = await transactionalProducer(`${topic}-txn`)
    try {
      const aborted = records('aborted', 10)
      let txn = await step(producer.transaction(), 'producer.transaction')
      await step(txn.send({ topic, acks: -1, messages: aborted }), 'txn.send')
      await step(txn.abort(), 'txn.abort')
      const committed = records('committed', 5)
      txn = await step(producer.transaction(), 'producer.transaction')
      await step(txn.send({ topic, acks: -1, messages: committed }), 'txn.send')
      await step(txn.commit(), 'txn.commit')
      expectExactly(await read(topic, committed.length), committed, 'readUncommitted:false')
      expectExactly(await read(topic, aborted.length + committed.length, { readUncommitted: true, settleMs: 500 }),
        [...aborted, ...committed], 'readUncommitted:true')
      return `${aborted.length} aborted records invisible, ${committed.length} committed ones read once; readUncommitted sees all`
    } finally {
      await producer.disconnect().catch(() => {})
    }
  },

  async send_offsets () {
    const input = `${prefix}-offsets-in`
    const output = `${prefix}-offsets-out`
    await createTopic(input, 2)
    await createTopic(output)
    const groupId = `${prefix}-offsets-group`
    const producer = await transactionalProducer(`${prefix}-offsets-txn`)
    try {
      const before = await groupOffsets(groupId, input)
      if (before !== '-1,-1') fail(`a new group has offsets ${before}`)
      // Commit: offsets 7 and 3 for the group (one TxnOffsetCommit), with 7 output records.
      const first = records('first', 7)
      let txn = await step(producer.transaction(), 'producer.transaction')
      await step(txn.send({ topic: output, acks: -1, messages: first }), 'txn.send')
      await step(txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '7' }, { partition: 1, offset: '3' }] }] }), 'txn.sendOffsets')
      const open = await groupOffsets(groupId, input)
      if (open !== '-1,-1') fail(`the group's offsets are ${open} while the transaction is open`)
      await step(txn.commit(), 'txn.commit')
      let after = null
      const deadline = Date.now() + STEP_MS
      while (after !== '7,3' && Date.now() < deadline) {
        after = await groupOffsets(groupId, input)
        if (after !== '7,3') await sleep(200)
      }
      if (after !== '7,3') fail(`the group's offsets are ${after} after the commit, want 7,3`)
      // Abort: offsets 12 and 9 sent, then aborted: the group stays at 7 and 3.
      txn = await step(producer.transaction(), 'producer.transaction')
      await step(txn.send({ topic: output, acks: -1, messages: records('second', 5) }), 'txn.send')
      await step(txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '12' }, { partition: 1, offset: '9' }] }] }), 'txn.sendOffsets')
      await step(txn.abort(), 'txn.abort')
      await sleep(1000)
      const aborted = await groupOffsets(groupId, input)
      if (aborted !== '7,3') fail(`the group's offsets are ${aborted} after the aborted transaction, want 7,3`)
      expectExactly(await read(output, first.length), first, 'readUncommitted:false output')
      return 'group offsets (2 partitions) unset while open, 7,3 after commit, still 7,3 after an aborted transaction sent 12,9; output read once'
    } finally {
      await producer.disconnect().catch(() => {})
    }
  },
}

async function main () {
  if (process.argv.length !== 4 && process.argv.length !== 5) {
    process.stderr.write('usage: node txn.js BOOTSTRAP PREFIX [REPLICATION]\n')
    process.exit(2)
  }
  const bootstrap = process.argv[2]
  prefix = process.argv[3]
  replication = Number(process.argv[4] || 1)
  setTimeout(() => {
    process.stderr.write(`[kafkajs txn] timed out after ${DRIVER_MS / 1000}s\n`)
    process.exit(3)
  }, DRIVER_MS).unref()
  kafka = new Kafka({
    clientId: 'weir-txn-kafkajs',
    brokers: bootstrap.split(','),
    logLevel: logLevel.WARN,
    logCreator: toStderr,
    connectionTimeout: 5000,
    requestTimeout: STEP_MS,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 },
  })
  admin = kafka.admin()
  await step(admin.connect(), 'admin.connect')
  for (const [id, check] of Object.entries(checks)) {
    await runCheck(id, check)
  }
  await step(admin.disconnect(), 'admin.disconnect', 5000).catch(() => {})
  process.exit(0)
}

main().catch((e) => {
  process.stderr.write(`[kafkajs txn] crashed: ${e && e.stack}\n`)
  process.exit(1)
})
