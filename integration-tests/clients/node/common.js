// What the kafkajs programs (driver.js, txn.js) share: failures, deadlines, kafkajs logging
// to stderr, and the `RESULT <id> PASS|FAIL|UNSUPPORTED <detail>` lines of ../SCENARIOS.md.

'use strict'

const STEP_MS = 20000

// A check that failed: reported as FAIL with its message alone.
class Failure extends Error {}
// A check this client cannot run: reported as UNSUPPORTED.
class Unsupported extends Error {}
const fail = (msg) => { throw new Failure(msg) }
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// A promise with a deadline, naming the step that did not finish.
function step (promise, what, ms = STEP_MS) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Failure(`${what} did not finish in ${ms / 1000}s`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

// kafkajs logs to stdout by default; stdout is for RESULT lines only.
const toStderr = () => ({ namespace, label, log }) => {
  const { message, ...extra } = log
  process.stderr.write(`[kafkajs ${label} ${namespace}] ${message} ${JSON.stringify(extra)}\n`)
}

// Creates `topic` (kafkajs admin.createTopics), failing if it is not created now.
async function createTopic (admin, { topic, numPartitions = 1, replicationFactor = 1, configEntries = [] }, timeout) {
  const created = await step(admin.createTopics({
    topics: [{ topic, numPartitions, replicationFactor, configEntries }],
    waitForLeaders: true,
    timeout,
  }), `createTopics ${topic}`)
  if (created !== true) fail(`createTopics ${topic} returned ${created} (already exists?)`)
}

function report (id, status, detail) {
  process.stdout.write(`RESULT ${id} ${status} ${String(detail).split(/\s+/).join(' ').trim().slice(0, 400)}\n`)
}

// Runs one check and reports it: PASS with its summary and duration, UNSUPPORTED or FAIL with
// the message of what it threw (any other error's stack goes to stderr). True if it passed.
async function runCheck (id, check) {
  const started = Date.now()
  try {
    const summary = (await check()) || 'ok'
    report(id, 'PASS', `${summary} (${((Date.now() - started) / 1000).toFixed(1)}s)`)
    return true
  } catch (e) {
    if (e instanceof Unsupported) report(id, 'UNSUPPORTED', e.message)
    else if (e instanceof Failure) report(id, 'FAIL', e.message)
    else {
      process.stderr.write(`${id}: ${e && e.stack}\n`)
      report(id, 'FAIL', `${e && e.name}: ${e && e.message}`)
    }
    return false
  }
}

module.exports = { STEP_MS, Failure, Unsupported, fail, sleep, step, toStderr, createTopic, report, runCheck }
