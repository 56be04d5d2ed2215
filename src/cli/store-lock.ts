/** The store lock, for the CLI commands that take it themselves (load). */
export * from '../store/store-lock.js';
