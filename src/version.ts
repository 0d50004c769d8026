// The version every part reports (agents send it when they join).
export const DROVER_VERSION = '0.1.0';
