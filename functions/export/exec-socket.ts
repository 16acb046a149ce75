// The WebSocket under pods/exec, on public APIs only (KubeConfig, ws): client-node's own handler is not
// exported from its package, and its default ends process.stdout when the server closes a stream.
import type { Exec, KubeConfig } from '@kubernetes/client-node';
import WebSocket from 'ws';

/** What `Exec` accepts as its transport (client-node's `WebSocketInterface`, which it does not export). */
export type ExecTransport = NonNullable<ConstructorParameters<typeof Exec>[1]>;

/** The channel protocols the API server negotiates, newest first (kubectl sends the same list). */
const PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];

/** Connects to the API server with the kubeconfig's credentials; frames go to `Exec`'s handlers by channel. */
export function execTransport(kubeConfig: KubeConfig): ExecTransport {
  return {
    async connect(path, textHandler, binaryHandler) {
      const server = kubeConfig.getCurrentCluster()?.server;
      if (!server) throw new Error('the kubeconfig has no current cluster');
      const url = `${server.replace(/^http/, 'ws').replace(/\/$/, '')}${path}`;
      const options: WebSocket.ClientOptions = {};
      // Client certificates, CA, bearer tokens and exec plugins, as for every other API call.
      await kubeConfig.applyToHTTPSOptions(options);
      return new Promise((resolve, reject) => {
        const socket = new WebSocket(url, PROTOCOLS, options);
        socket.once('open', () => {
          socket.off('error', reject);
          resolve(socket as Awaited<ReturnType<ExecTransport['connect']>>);
        });
        socket.once('error', reject);
        socket.on('message', (data: Buffer, isBinary: boolean) => {
          if (!isBinary) {
            if (textHandler && !textHandler(data.toString('utf8'))) socket.close();
            return;
          }
          if (binaryHandler && !binaryHandler(data.readUInt8(0), data.subarray(1))) socket.close();
        });
      });
    },
  };
}
