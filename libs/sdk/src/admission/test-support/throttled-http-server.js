// An instance as the host agent runs it: a node:http server behind the admission hook, taking
// throttle commands from its parent over IPC. Plain CommonJS on the built SDK (`npm run build`),
// imported as a tenant's server would import it.
//
// Its own IPC messages share the channel with the SDK's: it announces its port
// (`fixture.listening`) and answers `fixture.ping` with `fixture.pong`.
const { createServer } = require('node:http');
const { AdmissionGate, acceptSupervisorCommands, nodeHttpAdmission } = require('@autoheal/sdk');

const gate = new AdmissionGate();
acceptSupervisorCommands(gate);

process.on('message', (message) => {
  if (message && message.type === 'fixture.ping') process.send({ type: 'fixture.pong', stats: gate.stats });
});

const server = createServer(
  nodeHttpAdmission(gate, (_req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end('{"ok":true}');
  }),
);
server.listen(0, '127.0.0.1', () => process.send({ type: 'fixture.listening', port: server.address().port }));

// The parent went away: nobody to serve.
process.once('disconnect', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
