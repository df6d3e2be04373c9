// A Node.js built-in `http2` h2c server for hopwire's client tests.
// Usage: node node_h2_peer.js [--max-streams N] [--delay-ms N] [--h1]
// --h1 serves HTTP/1.1 only (node:http), to test the client's AUTO fallback.
// Prints "listening on 127.0.0.1:PORT" once listening. Routes:
//   POST any path: echoes the body, with x-echo-len and the request's x-* headers echoed back
//   GET /bytes/N: N bytes of a repeating pattern
//   GET /stats: {"sessions": accepted connections, "streams": requests seen}
'use strict';
const http2 = require('http2');

let maxStreams = 1000;
let delayMs = 0;
let h1 = false;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--max-streams') maxStreams = parseInt(argv[++i], 10);
  else if (argv[i] === '--delay-ms') delayMs = parseInt(argv[++i], 10);
  else if (argv[i] === '--h1') h1 = true;
}

let sessions = 0;
let streams = 0;
function onStream(stream, headers) {
  streams++;
  stream.on('error', () => {});
  const method = headers[':method'];
  const path = headers[':path'];
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    const reply = () => {
      if (stream.destroyed) return;
      if (method === 'GET' && path === '/stats') {
        stream.respond({ ':status': 200, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ sessions, streams }));
        return;
      }
      if (method === 'GET' && path.startsWith('/bytes/')) {
        const n = parseInt(path.slice(7), 10) || 0;
        const b = Buffer.alloc(n);
        for (let i = 0; i < n; i++) b[i] = i % 251;
        stream.respond({ ':status': 200, 'content-length': String(n) });
        stream.end(b);
        return;
      }
      const body = Buffer.concat(chunks);
      const out = { ':status': 200, 'content-type': 'application/octet-stream',
                    'x-echo-len': String(body.length) };
      for (const k of Object.keys(headers)) if (k.startsWith('x-')) out[k] = headers[k];
      stream.respond(out);
      stream.end(body);
    };
    if (delayMs > 0) setTimeout(reply, delayMs); else reply();
  });
}

let server;
if (h1) {
  // adapt node:http's (req, res) to the stream shape above
  server = require('http').createServer((req, res) => {
    const headers = Object.assign({ ':method': req.method, ':path': req.url }, req.headers);
    const stream = {
      destroyed: false,
      on: (ev, fn) => req.on(ev, fn),
      respond: (h) => {
        const st = h[':status'];
        const rest = {};
        for (const k of Object.keys(h)) if (k !== ':status') rest[k] = h[k];
        res.writeHead(st, rest);
      },
      end: (b) => res.end(b),
    };
    onStream(stream, headers);
  });
  server.on('connection', () => sessions++);
  server.keepAliveTimeout = 60000;
} else {
  server = http2.createServer({
    settings: { maxConcurrentStreams: maxStreams, initialWindowSize: 1 << 20 },
    maxSessionMemory: 64,
  });
  server.on('session', (s) => {
    sessions++;
    s.on('error', () => {});
  });
  server.on('stream', onStream);
}
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));

// A test that fails an assertion never stops its peer: leave with the parent, or an orphan
// would hold ctest's output pipe open and turn a failure into a timeout.
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
