// A stand-in for a registered service that dies hard, for the etcd:// tests:
// puts <key> = <value> on an etcd lease of <ttlSec> (kept alive by etcd3),
// prints "registered", and lives until killed. A SIGKILL stops the keepalives,
// so etcd deletes the key when the lease runs out.
//
//   node etcd-lease-holder.mjs <host:port> <key> <value> <ttlSec>
import etcd3 from "etcd3";

const [host, key, value, ttlText] = process.argv.slice(2);
if (!host || !key || value === undefined || !ttlText) {
  process.stderr.write("usage: etcd-lease-holder.mjs <host:port> <key> <value> <ttlSec>\n");
  process.exit(2);
}
const client = new etcd3.Etcd3({ hosts: [`http://${host}`] });
const lease = client.lease(Number(ttlText));
lease.on("lost", (error) => process.stderr.write(`lease lost: ${error.message}\n`));
try {
  await lease.put(key).value(value);
} catch (error) {
  process.stderr.write(`put failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
process.stdout.write("registered\n");
// Keep the process (and so the lease's keepalives) alive until the test kills it.
setInterval(() => {}, 1 << 30);
