// The adapter's request hook is a contact point with Nest's internals: it lives in lib/compat/.
export { type RequestHookHost, hasRequestHookSlot, startInRequestHook } from '../compat/request-hook.js';
