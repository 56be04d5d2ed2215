/** Kept for src/daemon and src/cni until they open stores through openStore (#11 follow-up). */
export * from '../store/store-lock.js';
