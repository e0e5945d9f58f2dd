#!/usr/bin/env node
// An independent verifier of the publish signature InfraMind attaches to an image: it shares no code with InfraMind.
// It reads the OCI 1.1 referrers of the image from the registry over plain HTTP (the referrers API, else the
// `sha256-<hex>` tag index), fetches each Sigstore bundle referrer (manifest, then its one layer, both checked against
// their digests), verifies the bundle with @sigstore/verify using only the publisher's public key (keyed
// verification: no certificate authority, no transparency log, no timestamp authority, so every threshold is 0), and
// checks that the in-toto statement's subject is the image's manifest digest.
//
//   node verify-oci.js --registry http://127.0.0.1:PORT --repository REPO --digest sha256:HEX --key PUBLIC.pem
//
// Prints one JSON line. Exit 0: a bundle verified; 1: none did (the reasons are printed); 2: usage.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const { bundleFromJSON, assertBundleLatest, BUNDLE_V03_MEDIA_TYPE } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) usage(`bad argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['registry', 'repository', 'digest', 'key']) if (!out[k]) usage(`--${k} is required`);
  if (!/^sha256:[0-9a-f]{64}$/.test(out.digest)) usage('--digest must be sha256:<64 hex>');
  return out;
}

function usage(message) {
  console.error(`${message}\nusage: node verify-oci.js --registry URL --repository REPO --digest sha256:HEX --key PUBLIC.pem`);
  process.exit(2);
}

function sha256(buf) {
  return 'sha256:' + crypto.createHash('sha256').update(buf).digest('hex');
}

// Small documents only: a referrer index, manifest or bundle over 4 MiB is refused (a test peer: it reads the body first).
async function get(url, accept) {
  const res = await fetch(url, { headers: accept ? { Accept: accept } : {}, redirect: 'follow' });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  const buf = Buffer.from(await res.arrayBuffer());
  if (buf.length > 4 << 20) throw new Error(`GET ${url}: ${buf.length} bytes, too large`);
  return buf;
}

async function referrers(base, repo, digest) {
  const api = await get(`${base}/v2/${repo}/referrers/${digest}?artifactType=${encodeURIComponent(BUNDLE_V03_MEDIA_TYPE)}`, OCI_INDEX);
  const tag = 'sha256-' + digest.slice('sha256:'.length);
  const index = api ?? (await get(`${base}/v2/${repo}/manifests/${tag}`, OCI_INDEX));
  if (index === null) return { source: 'none', entries: [] };
  const doc = JSON.parse(index.toString('utf8'));
  if (doc.mediaType !== OCI_INDEX || !Array.isArray(doc.manifests)) throw new Error('the referrers index is not an OCI image index');
  return { source: api ? 'referrers-api' : `tag ${tag}`, entries: doc.manifests };
}

async function verifyReferrer(base, repo, digest, entry, trust) {
  const manifestBytes = await get(`${base}/v2/${repo}/manifests/${entry.digest}`, OCI_MANIFEST);
  if (manifestBytes === null) throw new Error(`referrer ${entry.digest} is listed but missing`);
  if (sha256(manifestBytes) !== entry.digest) throw new Error(`referrer ${entry.digest}: bytes hash to ${sha256(manifestBytes)}`);
  const manifest = JSON.parse(manifestBytes.toString('utf8'));
  if (manifest.artifactType !== BUNDLE_V03_MEDIA_TYPE) throw new Error(`referrer ${entry.digest}: artifactType ${manifest.artifactType}`);
  if (!manifest.subject || manifest.subject.digest !== digest) throw new Error(`referrer ${entry.digest}: subject is ${manifest.subject && manifest.subject.digest}, not ${digest}`);
  if (!Array.isArray(manifest.layers) || manifest.layers.length !== 1) throw new Error(`referrer ${entry.digest}: not exactly one layer`);
  const layer = manifest.layers[0];
  const bundleBytes = await get(`${base}/v2/${repo}/blobs/${layer.digest}`);
  if (bundleBytes === null || sha256(bundleBytes) !== layer.digest) throw new Error(`referrer ${entry.digest}: bundle blob missing or not ${layer.digest}`);

  const bundle = bundleFromJSON(JSON.parse(bundleBytes.toString('utf8')));
  assertBundleLatest(bundle);
  if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE) throw new Error(`bundle mediaType ${bundle.mediaType}`);
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundle));

  // The signature holds; now what it says: an in-toto statement whose subject is this image's manifest.
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== 'application/vnd.in-toto+json') throw new Error(`payloadType ${envelope.payloadType}`);
  const statement = JSON.parse(Buffer.from(envelope.payload).toString('utf8'));
  if (statement._type !== 'https://in-toto.io/Statement/v1') throw new Error(`statement _type ${statement._type}`);
  const hex = digest.slice('sha256:'.length);
  if (!Array.isArray(statement.subject) || !statement.subject.some((s) => s.digest && s.digest.sha256 === hex)) {
    throw new Error(`the statement's subject (${JSON.stringify(statement.subject)}) does not name the image ${digest}`);
  }
  return { referrer: entry.digest, hint: bundle.verificationMaterial.content.publicKey.hint, predicateType: statement.predicateType, subject: statement.subject };
}

async function main() {
  const a = args();
  const key = crypto.createPublicKey(fs.readFileSync(a.key));
  // Keyed verification: whatever hint the bundle names, the key is the one the verifier was given (as `cosign --key`).
  const noRoot = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
  const trust = toTrustMaterial(noRoot, () => ({ publicKey: key, validFor: () => true }));
  const base = a.registry.replace(/\/+$/, '');
  const { source, entries } = await referrers(base, a.repository, a.digest);
  const bundles = entries.filter((e) => e.artifactType === BUNDLE_V03_MEDIA_TYPE);
  const failures = [];
  for (const entry of bundles) {
    try {
      const ok = await verifyReferrer(base, a.repository, a.digest, entry, trust);
      console.log(JSON.stringify({ verified: true, source, ...ok }));
      return 0;
    } catch (e) {
      failures.push(`${entry.digest}: ${e.code ? e.code + ' ' : ''}${e.message}`);
    }
  }
  console.log(JSON.stringify({ verified: false, source, referrers: bundles.length, failures }));
  return 1;
}

main().then((code) => process.exit(code), (e) => {
  console.log(JSON.stringify({ verified: false, error: String(e && e.message || e) }));
  process.exit(1);
});
