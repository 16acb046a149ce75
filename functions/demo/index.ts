export { DEMO_CAMERA_PATH, startDemo, type DemoSettings, type RunningDemo } from './demo.js';
