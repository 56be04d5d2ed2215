/** Inspection: replay a saved log into any XState inspector, live WebSocket hookup, capture. */
export { readLog, readStoreDir, type SavedLog } from './read-store.js';
export { replayIntoInspector, type ReplayedState } from './replay-inspection.js';
export { captureInspection, type InspectedStep, type InspectionCapture } from './capture.js';
export {
  startWebSocketInspection,
  loadInspectorModules,
  InspectorListenError,
  InspectorMissingError,
  type InspectorModules,
  type WebSocketInspection,
  type WebSocketInspectionOptions,
} from './websocket.js';
