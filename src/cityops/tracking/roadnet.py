"""The street graph built from imported road segments (路段): snapping points onto it, shortest paths (Dijkstra,
heapq), and nearest-segment matching for patrol coverage (pure: data in, numbers out).

Coordinates are projected once onto a local plane (equirectangular around the network's mean latitude, metres),
which is within ~0.1 % of great-circle distance across a city and lets GEOS and numpy work on plain floats.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString

from cityops.geo.index import METRES_PER_DEGREE

SegmentCoords = tuple[int, Sequence[tuple[float, float]]]  # (segment id, [(lon, lat), ...])


@dataclass(frozen=True)
class Snaps:
    """Where points land on the graph: the edge, its two nodes, the way along it to each, and the way to it."""

    edge: np.ndarray
    u: np.ndarray
    v: np.ndarray
    off_u: np.ndarray
    off_v: np.ndarray
    gap: np.ndarray  # straight distance from the point to the edge


class RoadNetwork:
    def __init__(self, segments: Sequence[SegmentCoords]) -> None:
        lats = [lat for _, coords in segments for _, lat in coords]
        self.lat0 = float(np.mean(lats)) if lats else 0.0
        self.kx = METRES_PER_DEGREE * math.cos(math.radians(self.lat0))
        self.ky = METRES_PER_DEGREE
        node_of: dict[tuple[float, float], int] = {}
        xy: list[tuple[float, float]] = []
        eu: list[int] = []
        ev: list[int] = []
        self.edge_segment: list[int] = []
        self.segment_ids: list[int] = []
        segment_lines = []
        for seg_id, coords in segments:
            pts = [self.project(lat, lon) for lon, lat in coords]
            if len(pts) < 2:
                continue
            self.segment_ids.append(seg_id)
            segment_lines.append(LineString(pts))
            ids = []
            for (lon, lat), p in zip(coords, pts, strict=True):
                key = (round(lon, 7), round(lat, 7))  # shared endpoints join segments into one graph
                if key not in node_of:
                    node_of[key] = len(xy)
                    xy.append(p)
                ids.append(node_of[key])
            for a, b in zip(ids, ids[1:], strict=False):
                if a != b:
                    eu.append(a)
                    ev.append(b)
                    self.edge_segment.append(seg_id)
        self.nodes = np.array(xy, dtype=float).reshape(-1, 2)
        self.eu = np.array(eu, dtype=np.int64)
        self.ev = np.array(ev, dtype=np.int64)
        self.edge_len = np.hypot(*(self.nodes[self.ev] - self.nodes[self.eu]).T) if eu else np.zeros(0)
        self.adj: list[list[tuple[int, float]]] = [[] for _ in range(len(xy))]
        for i, (a, b) in enumerate(zip(eu, ev, strict=True)):
            w = float(self.edge_len[i])
            self.adj[a].append((b, w))
            self.adj[b].append((a, w))
        self._edges = np.array([LineString([self.nodes[a], self.nodes[b]]) for a, b in zip(eu, ev, strict=True)],
                               dtype=object)
        self._edge_tree = shapely.STRtree(self._edges)
        self._segments = np.array(segment_lines, dtype=object)
        self._segment_tree = shapely.STRtree(self._segments)

    @property
    def is_empty(self) -> bool:
        return len(self.eu) == 0

    def project(self, lat: float, lon: float) -> tuple[float, float]:
        return lon * self.kx, lat * self.ky

    def project_many(self, lats: np.ndarray, lons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return lons * self.kx, lats * self.ky

    def snap(self, xs: np.ndarray, ys: np.ndarray) -> Snaps:
        """Snap projected points onto their nearest edge (vectorised; one GEOS call)."""
        pts = shapely.points(xs, ys)
        inp, hit = self._edge_tree.query_nearest(pts, all_matches=False)
        edge = np.empty(len(xs), dtype=np.int64)
        edge[inp] = hit
        lines = self._edges[edge]
        along = shapely.line_locate_point(lines, pts)
        length = self.edge_len[edge]
        return Snaps(edge, self.eu[edge], self.ev[edge], along, length - along, shapely.distance(lines, pts))

    def distances_from(self, x: float, y: float) -> tuple[np.ndarray, Snaps]:
        """Shortest street distance from the point (snapped onto its edge) to every node."""
        s = self.snap(np.array([x]), np.array([y]))
        dist = np.full(len(self.nodes), np.inf)
        heap = [(float(s.off_u[0]), int(s.u[0])), (float(s.off_v[0]), int(s.v[0]))]
        for d, n in heap:
            dist[n] = min(dist[n], d)
        heapq.heapify(heap)
        while heap:
            d, n = heapq.heappop(heap)
            if d > dist[n]:
                continue
            for m, w in self.adj[n]:
                nd = d + w
                if nd < dist[m]:
                    dist[m] = nd
                    heapq.heappush(heap, (nd, m))
        return dist, s

    def travel_m(self, origin: Snaps, dist: np.ndarray, target: Snaps) -> np.ndarray:
        """Street metres from each snapped origin to the target whose node distances are ``dist``."""
        via = np.minimum(origin.off_u + dist[origin.u], origin.off_v + dist[origin.v])
        same = origin.edge == target.edge[0]
        if same.any():
            via = np.where(same, np.minimum(via, np.abs(origin.off_u - target.off_u[0])), via)
        out: np.ndarray = origin.gap + via + target.gap[0]
        return out

    def segments_near(self, xs: np.ndarray, ys: np.ndarray, max_m: float) -> np.ndarray:
        """The id of the road segment within ``max_m`` of each point, or -1."""
        out = np.full(len(xs), -1, dtype=np.int64)
        if not len(xs) or not len(self._segments):
            return out
        inp, hit = self._segment_tree.query_nearest(shapely.points(xs, ys), max_distance=max_m, all_matches=False)
        ids = np.asarray(self.segment_ids, dtype=np.int64)
        out[inp] = ids[hit]
        return out

    def segment_line(self, segment_id: int) -> LineString | None:
        try:
            return self._segments[self.segment_ids.index(segment_id)]
        except ValueError:
            return None
