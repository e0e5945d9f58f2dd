#!/bin/sh
# Regenerates package-lock.json (run by hand after changing package.json; install.sh only runs `npm ci`).
# electron-eval (ipfs → electron-webrtc, loaded only inside Electron) names an optional dependency by a git host
# tarball URL that cannot be fetched here; `npm install` skips it, but `npm ci` then calls the lock out of sync. The
# edge is removed from the lock so that `npm ci` installs exactly the rest.
set -eu
cd "$(dirname "$0")"
npm install --package-lock-only --no-audit --no-fund --ignore-scripts
node -e '
const fs = require("fs")
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"))
for (const [path, pkg] of Object.entries(lock.packages)) {
  delete pkg.resolved // the registry is the client'"'"'s setting, not the lock'"'"'s
  for (const [dep, spec] of Object.entries(pkg.optionalDependencies || {})) {
    if (/^(https?|git)[:+]/.test(spec) && !lock.packages[`node_modules/${dep}`]) delete pkg.optionalDependencies[dep]
  }
}
fs.writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n")
'
