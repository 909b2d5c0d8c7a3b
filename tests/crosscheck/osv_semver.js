// Verdicts of OSV ranges under npm ordering, computed with node-semver.
//
// Reads the cases file named by argv[2] (a JSON list of {"events": [[kind, version]...],
// "versions": [...]}) and prints, per case, which versions node-semver accepts (strict
// parsing), the sign of comparing each with each event bound, and the OSV verdict:
// events sorted by version ("introduced: 0" first), then walked.
'use strict'

const fs = require('fs')
const semver = require('semver')

const zero = (kind, text) => kind === 'introduced' && text === '0'

function compareEvents ([ka, ta], [kb, tb]) {
  const za = zero(ka, ta)
  const zb = zero(kb, tb)
  if (za || zb) return (zb ? 1 : 0) - (za ? 1 : 0)
  return semver.compare(ta, tb)
}

function affected (version, events) {
  const limits = events.filter(([k, t]) => k === 'limit' && t !== '*').map(([, t]) => t)
  const unlimited = events.some(([k, t]) => k === 'limit' && t === '*')
  const walk = events.filter(([k]) => k !== 'limit').sort(compareEvents)
  let hit = false
  for (const [kind, text] of walk) {
    if (kind === 'introduced') hit = hit || text === '0' || semver.gte(version, text)
    else if (kind === 'fixed') hit = hit && semver.lt(version, text)
    else if (kind === 'last_affected') hit = hit && !semver.gt(version, text)
  }
  const below = limits.length === 0 || unlimited || limits.some((l) => semver.lt(version, l))
  return hit && below
}

function judge (testCase) {
  const bounds = testCase.events.map(([, t]) => t).filter((t) => t !== '0' && t !== '*')
  const out = { accepted: [], signs: [], affected: [] }
  for (const text of testCase.versions) {
    const version = semver.parse(text)
    if (version === null) continue
    out.accepted.push(text)
    out.signs.push(bounds.map((b) => semver.compare(version, b)))
    out.affected.push(affected(version, testCase.events))
  }
  return out
}

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
process.stdout.write(JSON.stringify(cases.map(judge)))
