import { SweepsList } from "@/components/SweepsList";

export default function SweepsPage() {
  return (
    <>
      <div className="page-head">
        <div>
          <h1>Sweeps</h1>
          <p className="muted">Named sets of runs from a grid or a random search, repeated over seeds. Open one to compare its runs.</p>
        </div>
      </div>
      <SweepsList />
    </>
  );
}
