// recharts lives in its own chunk: this module is loaded lazily by the pages that draw charts.
import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { formatUsd } from './money';

export interface ChartPoint {
  label: string;
  cost_micros: number;
}

const axisUsd = (v: number) => {
  const s = formatUsd(v);
  return s.length > 9 ? `$${(v / 1e6).toPrecision(3)}` : s;
};

export default function SpendChart({ data, color = '#2563eb', layout = 'columns' }: { data: ChartPoint[]; color?: string; layout?: 'columns' | 'bars' }) {
  if (layout === 'bars') {
    const height = Math.max(160, data.length * 34 + 40);
    return (
      <ResponsiveContainer width="100%" height={height}>
        <BarChart data={data} layout="vertical" margin={{ top: 8, right: 16, bottom: 8, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" horizontal={false} stroke="#e5e7eb" />
          <XAxis type="number" tickFormatter={axisUsd} tick={{ fontSize: 12 }} />
          <YAxis type="category" dataKey="label" width={120} tick={{ fontSize: 12 }} />
          <Tooltip formatter={(v) => [formatUsd(Number(v)), 'Spend']} />
          <Bar dataKey="cost_micros" fill={color} radius={[0, 4, 4, 0]} isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    );
  }
  return (
    <ResponsiveContainer width="100%" height={240}>
      <BarChart data={data} margin={{ top: 8, right: 8, bottom: 8, left: 8 }}>
        <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e5e7eb" />
        <XAxis dataKey="label" tick={{ fontSize: 11 }} tickFormatter={(d: string) => d.slice(5)} minTickGap={12} />
        <YAxis tickFormatter={axisUsd} tick={{ fontSize: 11 }} width={72} />
        <Tooltip formatter={(v) => [formatUsd(Number(v)), 'Spend']} />
        <Bar dataKey="cost_micros" fill={color} radius={[4, 4, 0, 0]} isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}
