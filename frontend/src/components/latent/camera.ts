// Camera state shared between the explorer's canvases (compare mode links two of them) without
// re-rendering React on every drag frame: each canvas publishes its view state and applies the others'.

export interface CameraState {
  dims: number;
  target: [number, number, number];
  zoom: number;
  rotationX: number;
  rotationOrbit: number;
}

export type CameraListener = (state: CameraState, from: string) => void;

export class CameraLink {
  private listeners = new Map<string, CameraListener>();
  last: CameraState | null = null;

  subscribe(id: string, fn: CameraListener): () => void {
    this.listeners.set(id, fn);
    return () => { this.listeners.delete(id); };
  }

  publish(state: CameraState, from: string): void {
    this.last = state;
    for (const [id, fn] of this.listeners) if (id !== from) fn(state, from);
  }
}

export function initialCamera(dims: number, zoom: number): CameraState {
  return { dims, target: [0, 0, 0], zoom, rotationX: dims > 2 ? 25 : 0, rotationOrbit: dims > 2 ? 35 : 0 };
}

export function roundedCamera(c: CameraState): string {
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return JSON.stringify({ target: c.target.map(r), zoom: r(c.zoom), rotationX: r(c.rotationX), rotationOrbit: r(c.rotationOrbit) });
}
