// Image formats a render job writes as saved, apart from the .blend reader so the form has them without loading it.
/**
 * The formats a render job writes frames in as saved: the coordinator's IMAGE_FORMATS
 * (src/render/blender-command.ts, not bundled: it needs node). Any other (a movie) is rendered as
 * PNG frames, as the CLI does.
 */
export const FRAME_FORMATS: ReadonlySet<string> = new Set(['PNG', 'JPEG', 'OPEN_EXR', 'OPEN_EXR_MULTILAYER', 'TIFF', 'BMP', 'WEBP', 'TARGA', 'HDR']);
