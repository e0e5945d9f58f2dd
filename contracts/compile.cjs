// Compiles ModelRegistry.sol with the pinned solc (package-lock.json) and writes the ABI and creation bytecode the
// .NET client embeds. Standard JSON input, so every setting that changes the bytecode is written here and nowhere else.
//   node contracts/compile.cjs OUTDIR
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const out = process.argv[2];
if (!out) {
  console.error("usage: node compile.cjs OUTDIR");
  process.exit(2);
}
const source = fs.readFileSync(path.join(__dirname, "ModelRegistry.sol"), "utf8");
const input = {
  language: "Solidity",
  sources: { "ModelRegistry.sol": { content: source } },
  settings: {
    // paris: no PUSH0/MCOPY/transient storage, so the bytecode runs on every EVM chain and dev node (ganache 7 included).
    evmVersion: "paris",
    optimizer: { enabled: true, runs: 200 },
    viaIR: true,
    outputSelection: { "ModelRegistry.sol": { ModelRegistry: ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error" || e.severity === "warning");
for (const e of errors) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);
const contract = output.contracts["ModelRegistry.sol"].ModelRegistry;
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "ModelRegistry.abi.json"), JSON.stringify(contract.abi, null, 2) + "\n");
fs.writeFileSync(path.join(out, "ModelRegistry.bin"), contract.evm.bytecode.object + "\n");
console.log(`solc ${solc.version()}: ${contract.evm.bytecode.object.length / 2} bytes of creation code -> ${out}`);
