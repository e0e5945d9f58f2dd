// js-ipfs 0.66 (through its libp2p dependencies) calls Promise.withResolvers, which Node 20 lacks.
// Loaded with NODE_OPTIONS=--require before the daemon starts.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
