// Independent CID computation for InfraMind.Storage.Tests: js-ipfs's UnixFS importer (through ipfs-only-hash).
// Usage: node cid.js FILE [WRAP_NAME | --v0-only]; prints one JSON object with the CIDs for kubo's default settings (v0) and
// for --cid-version 1 (raw leaves), each also wrapped in a directory when WRAP_NAME is given.
'use strict'
const fs = require('fs')
const Hash = require('ipfs-only-hash')
const { importer } = require('ipfs-unixfs-importer')

const block = {
  get: async cid => { throw new Error(`unexpected block get ${cid}`) },
  put: async () => { throw new Error('unexpected block put') }
}

// kubo's defaults, spelled out so that a change of the library's defaults cannot pass unnoticed.
const common = { chunker: 'fixed', maxChunkSize: 262144, strategy: 'balanced', maxChildrenPerNode: 174 }

async function wrapped (file, name, options) {
  let last
  for await (const entry of importer([{ path: name, content: fs.createReadStream(file) }], block,
    { ...common, ...options, wrapWithDirectory: true, onlyHash: true })) {
    last = entry
  }
  return `${last.cid}`
}

async function main () {
  const [file, wrapName] = process.argv.slice(2)
  const v0opts = { ...common, cidVersion: 0, rawLeaves: false }
  const v1opts = { ...common, cidVersion: 1, rawLeaves: true }
  if (wrapName === '--v0-only') { // for bench/cid-throughput.sh: one import, to time it
    process.stdout.write(await Hash.of(fs.createReadStream(file), v0opts) + '\n')
    return
  }
  const out = {
    v0: await Hash.of(fs.createReadStream(file), { ...v0opts }),
    v1: await Hash.of(fs.createReadStream(file), { ...v1opts }),
    // ipfs add --raw-leaves (CIDv0 root, CIDv1 raw leaves)
    v0raw: await Hash.of(fs.createReadStream(file), { ...v0opts, rawLeaves: true })
  }
  if (wrapName) {
    out.v0wrap = await wrapped(file, wrapName, v0opts)
    out.v1wrap = await wrapped(file, wrapName, v1opts)
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch(e => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1) })
