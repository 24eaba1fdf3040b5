-- Patients by sex.
SELECT sex, COUNT(*) AS patients
FROM patients
GROUP BY sex
ORDER BY sex;
