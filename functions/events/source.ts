/** `source` of every event a recorder sends: names the namespace and the device (a URI-reference, as the spec allows). */
export function eventSource(namespace: string, device: string): string {
  return `/shifu-rtsp/namespaces/${encodeURIComponent(namespace)}/devices/${encodeURIComponent(device)}`;
}
