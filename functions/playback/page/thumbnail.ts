// A thumbnail over the timeline where the pointer rests: the keyframe at or before that time, from
// /api/thumbnail (cached by the server, and by the browser through its ETag).

/** Width asked of the server (the image is shown at this size). */
const WIDTH = 160;
/** The pointer rests this long before a thumbnail is asked for. */
const REST_MS = 120;

/**
 * Shows a thumbnail above `bar` while the pointer moves over it. `timeAt` gives the footage's time under a
 * point (null: no footage there). The image lives beside the bar, since the bar redraws its children.
 */
export function attachThumbnails(bar: HTMLElement, device: string, timeAt: (clientX: number) => number | null): void {
  const box = document.createElement('div');
  box.className = 'thumb-box';
  box.style.cssText = 'position: relative; height: 0;';
  const img = document.createElement('img');
  img.className = 'thumb';
  img.alt = '';
  img.width = WIDTH;
  img.style.cssText = 'position: absolute; bottom: 4px; transform: translateX(-50%); border: 1px solid #444; background: #000; display: none; pointer-events: none; z-index: 2;';
  box.append(img);
  bar.before(box);
  let timer: number | undefined;
  img.addEventListener('load', () => {
    img.style.display = 'block';
  });
  img.addEventListener('error', () => {
    img.style.display = 'none';
  });
  bar.addEventListener('mousemove', (e) => {
    window.clearTimeout(timer);
    const x = e.clientX;
    timer = window.setTimeout(() => {
      const ms = timeAt(x);
      if (ms === null) {
        img.style.display = 'none';
        return;
      }
      const box = bar.getBoundingClientRect();
      img.style.left = `${Math.min(Math.max(x - box.left, WIDTH / 2), box.width - WIDTH / 2)}px`;
      // Whole seconds: the same rest point asks the same URL, which the browser's cache answers.
      const time = new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.000Z$/, 'Z');
      const src = `/api/thumbnail?device=${encodeURIComponent(device)}&time=${time}&width=${WIDTH}`;
      img.dataset.time = time;
      if (img.getAttribute('src') !== src) img.src = src;
      else img.style.display = 'block';
    }, REST_MS);
  });
  bar.addEventListener('mouseleave', () => {
    window.clearTimeout(timer);
    img.style.display = 'none';
  });
}
