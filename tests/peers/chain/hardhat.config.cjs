// The Hardhat 2 dev node for tests (`hardhat node --config tests/peers/chain/hardhat.config.cjs`): chain id 1337 like
// ganache, its default funded accounts, automine. No sources to compile; caches go to a temp directory, not the repo.
const os = require("os");
const path = require("path");
const scratch = process.env.INFRAMIND_HARDHAT_DIR || path.join(os.tmpdir(), "inframind-hardhat");
module.exports = {
  networks: { hardhat: { chainId: 1337 } },
  paths: { root: __dirname, cache: path.join(scratch, "cache"), artifacts: path.join(scratch, "artifacts"), sources: path.join(scratch, "contracts") },
};
