// Frame expressions and chunking: the very module the CLI and the coordinator use (pure TS, no
// I/O), bundled into the web app so the form validates exactly as the server will.
export { chunkFrames, FrameExpressionError, MAX_FRAME_COUNT, parseFrames } from '../../src/core/frames.ts';
