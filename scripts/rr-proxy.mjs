// A round-robin HTTP proxy for tests: each request goes to the next upstream in turn, so
// consecutive calls of one client land on different nodes (as behind any load balancer
// without stickiness). Streams bodies both ways (SSE included).
//
// Usage: node scripts/rr-proxy.mjs LISTEN_HOST:PORT UPSTREAM_HOST:PORT [UPSTREAM_HOST:PORT ...]
import http from 'node:http';

const [listen, ...upstreams] = process.argv.slice(2);
if (!listen || upstreams.length === 0) {
  console.error('usage: rr-proxy.mjs LISTEN UPSTREAM...');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
let next = 0;

const server = http.createServer((req, res) => {
  const [host, port] = upstreams[next++ % upstreams.length].split(':');
  const upstream = http.request(
    { host, port, method: req.method, path: req.url, headers: req.headers, agent },
    (up) => {
      res.writeHead(up.statusCode, up.rawHeaders);
      up.pipe(res);
      res.on('close', () => up.destroy());
    },
  );
  upstream.on('error', (e) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 502, message: `upstream ${host}:${port}: ${e.message}`, data: {} }));
    } else {
      res.destroy();
    }
  });
  req.pipe(upstream);
});
const [lhost, lport] = listen.split(':');
server.listen(Number(lport), lhost);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
