// Ends this process when the process that started it is gone (INFRAMIND_PARENT_PID), so that a test run killed
// half-way never leaves a daemon behind holding its ports. Loaded with NODE_OPTIONS=--require.
const parent = Number(process.env.INFRAMIND_PARENT_PID)
if (parent > 0) {
  setInterval(() => {
    try {
      process.kill(parent, 0)
    } catch {
      process.exit(1)
    }
  }, 1000).unref()
}
