// The same table as bench/definition.ts, written by hand as an analyst would
// write it for each database: one statement, CTEs, window functions.

export type Db = "sqlite" | "duckdb" | "postgres";

export function handWrittenSql(db: Db): string {
  const d = (iso: string) => (db === "sqlite" ? `'${iso}'` : `DATE '${iso}'`);
  const part = (p: "Y" | "m" | "d", x: string) =>
    db === "sqlite" ? `CAST(strftime('%${p}', ${x}) AS INTEGER)` : `EXTRACT(${p === "Y" ? "YEAR" : p === "m" ? "MONTH" : "DAY"} FROM ${x})`;
  const daysBetween = (a: string, b: string) => (db === "sqlite" ? `CAST(julianday(${a}) - julianday(${b}) AS INTEGER)` : `(${a} - ${b})`);
  // Whole years from x to 2024-01-01.
  const yearsTo2024 = (x: string) => `(2024 - ${part("Y", x)} - CASE WHEN ${part("m", x)} > 1 OR (${part("m", x)} = 1 AND ${part("d", x)} > 1) THEN 1 ELSE 0 END)`;
  const index = d("2024-01-01");
  return `
WITH
registered AS (
  SELECT DISTINCT patient_id FROM practice_registrations
  WHERE start_date <= ${index} AND (end_date > ${index} OR end_date IS NULL)
),
registration AS (
  SELECT patient_id, practice_pseudo_id, start_date FROM (
    SELECT patient_id, practice_pseudo_id, start_date,
      ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY start_date DESC NULLS LAST, end_date DESC NULLS LAST, practice_pseudo_id DESC NULLS LAST) AS rn
    FROM practice_registrations
    WHERE start_date <= ${index} AND (end_date >= ${index} OR end_date IS NULL)
  ) AS r WHERE rn = 1
),
ev AS (
  SELECT patient_id,
    MIN(CASE WHEN snomedct_code IN ('38341003', '59621000') THEN date END) AS first_hypertension,
    MAX(CASE WHEN snomedct_code IN ('44054006', '73211009', '237599002') THEN 1 ELSE 0 END) AS has_diabetes,
    SUM(CASE WHEN date > ${d("2023-01-01")} THEN 1 ELSE 0 END) AS events_last_year,
    SUM(CASE WHEN snomedct_code = '271649006' AND date > ${d("2019-01-01")} THEN 1 ELSE 0 END) AS systolic_readings_5y,
    MAX(date) AS last_event
  FROM clinical_events WHERE date <= ${index}
  GROUP BY patient_id
),
systolic AS (
  SELECT patient_id, numeric_value, date FROM (
    SELECT patient_id, numeric_value, date,
      ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY date DESC, numeric_value DESC NULLS LAST) AS rn
    FROM clinical_events WHERE date <= ${index} AND snomedct_code = '271649006'
  ) AS s WHERE rn = 1
),
bmi AS (
  SELECT patient_id, numeric_value FROM (
    SELECT patient_id, numeric_value,
      ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY date DESC, numeric_value DESC NULLS LAST) AS rn
    FROM clinical_events WHERE date <= ${index} AND snomedct_code = '60621009'
  ) AS b WHERE rn = 1
),
statins AS (
  SELECT patient_id, MIN(date) AS first_statin, SUM(CASE WHEN date > ${d("2023-01-01")} THEN 1 ELSE 0 END) AS last_year
  FROM medications WHERE date <= ${index} AND dmd_code IN ('320000009', '320006003', '320043001')
  GROUP BY patient_id
)
SELECT
  p.patient_id,
  ${yearsTo2024("p.date_of_birth")} AS age,
  p.sex,
  CASE WHEN ${yearsTo2024("p.date_of_birth")} < 40 THEN '18-39' WHEN ${yearsTo2024("p.date_of_birth")} < 60 THEN '40-59'
       WHEN ${yearsTo2024("p.date_of_birth")} < 80 THEN '60-79' ELSE '80+' END AS age_band,
  reg.practice_pseudo_id AS practice,
  ${yearsTo2024("reg.start_date")} AS registered_years,
  ev.first_hypertension,
  ev.has_diabetes = 1 AS has_diabetes,
  ev.events_last_year,
  ev.systolic_readings_5y,
  systolic.numeric_value AS last_systolic,
  systolic.date AS last_systolic_date,
  systolic.numeric_value >= 140 AS high_bp,
  bmi.numeric_value AS last_bmi,
  statins.first_statin,
  COALESCE(statins.last_year, 0) AS statins_last_year,
  ${daysBetween(index, "ev.last_event")} AS days_since_event,
  (p.date_of_death IS NOT NULL AND p.date_of_death < ${d("2025-01-01")}) AS dead_by_2025,
  (p.date_of_death >= ${index} AND p.date_of_death <= ${d("2024-03-31")}) AS died_within_90_days
FROM patients AS p
JOIN registered USING (patient_id)
JOIN ev USING (patient_id)
LEFT JOIN registration AS reg ON reg.patient_id = p.patient_id
LEFT JOIN systolic ON systolic.patient_id = p.patient_id
LEFT JOIN bmi ON bmi.patient_id = p.patient_id
LEFT JOIN statins ON statins.patient_id = p.patient_id
WHERE ${yearsTo2024("p.date_of_birth")} BETWEEN 18 AND 100
  AND ev.first_hypertension IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM patients_with_type_one_dissent AS o WHERE o.patient_id = p.patient_id)
  AND EXISTS (SELECT 1 FROM patients_without_ndoo AS o WHERE o.patient_id = p.patient_id)
ORDER BY p.patient_id`;
}
