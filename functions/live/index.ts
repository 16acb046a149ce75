// Live view: the public face of the live module (HLS and the player page on the forwarder's live port).
export { startLiveServer, type LiveDeps, type LiveServer, type LiveSettings } from './server.js';
