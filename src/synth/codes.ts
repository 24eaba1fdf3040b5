// The code pools synthetic records draw from: SNOMED CT concepts with a CTV3
// (Read v3) code beside each, chronic conditions with their prevalence by age
// and sex, measurements with plausible values, dm+d medicines, ICD-10 and
// OPCS-4 codes for hospital and death records. Every code passes its coding
// system's format check; the SNOMED CT and dm+d identifiers also carry a valid
// Verhoeff check digit (tests/synth checks both). The CTV3 beside a SNOMED CT
// code is its usual Read equivalent where one is well known, and otherwise a
// code of the same chapter: good enough for codelists to find something, not
// a clinical mapping.

/** A clinical concept in both of TPP's coding systems. */
export interface Concept {
  readonly snomed: string;
  readonly ctv3: string;
  readonly term: string;
}

function c(snomed: string, ctv3: string, term: string): Concept {
  return { snomed, ctv3, term };
}

/** A probability by age: [upper age (exclusive), probability] steps, the last step open-ended. */
export type AgeCurve = readonly (readonly [number, number])[];

export function atAge(curve: AgeCurve, age: number): number {
  for (const [upTo, p] of curve) if (age < upTo) return p;
  return curve[curve.length - 1]![1];
}

// ---- medicines (dm+d VMPs) ------------------------------------------------

export const MEDICINES = {
  amlodipine5: "319283006",
  amlodipine10: "319284000",
  atorvastatin20: "320000009",
  simvastatin40: "320006003",
  pravastatin40: "320043001",
  metformin500: "325278007",
  ramipril2_5: "318885001",
  paracetamol500: "322236009",
  bisoprolol2_5: "318590006",
  bisoprolol5: "318593008",
  citalopram20: "321987003",
  amoxicillin500: "323509004",
  amoxicillin250: "323510009",
  ibuprofen400: "329652003",
  codeine30: "322254008",
  naproxen500: "329651005",
  warfarin1: "319733000",
  apixaban5: "703907006",
  rivaroxaban20: "442031002",
  furosemide40: "317972000",
  bendroflumethiazide2_5: "317919004",
  flucloxacillin500: "323620005",
  nitrofurantoin100: "376724001",
  cetirizine10: "320795003",
  phenoxymethylpenicillin250: "324430000",
  clopidogrel75: "319740004",
  atenolol50: "318420003",
  beclometasone100: "320176004",
  pregabalin75: "374646004",
  adrenalineInhaler: "10514511000001106",
  adrenalineInhalerRefill: "10525011000001107",
} as const;
type Medicine = (typeof MEDICINES)[keyof typeof MEDICINES];
const M = MEDICINES;

/** Medicines issued without a chronic condition, after an acute problem, by the problem's kind. */
export const ACUTE_MEDICINES: Record<string, readonly Medicine[]> = {
  infection: [M.amoxicillin500, M.amoxicillin500, M.amoxicillin250, M.flucloxacillin500, M.phenoxymethylpenicillin250],
  uti: [M.nitrofurantoin100],
  pain: [M.paracetamol500, M.ibuprofen400, M.codeine30, M.naproxen500],
  allergy: [M.cetirizine10],
};

// ---- chronic conditions ----------------------------------------------------

export interface Condition {
  readonly key: string;
  /** Diagnosis codes: the first is the commonest. */
  readonly codes: readonly Concept[];
  /** Probability of having had the condition by the age reached (at death or the end of the data). */
  readonly prevalence: AgeCurve;
  /** Multiplies the prevalence for a female (and divides it for a male), when the condition is sex-linked. */
  readonly femaleRatio?: number;
  /** Only for one sex. */
  readonly sex?: "female" | "male";
  /** The youngest onset age. */
  readonly minOnset: number;
  /** Medicines issued again and again while the condition lasts. */
  readonly medicines?: readonly Medicine[];
  /** A code recorded at annual reviews. */
  readonly review?: Concept;
}

const HYPERTENSION = [c("38341003", "XE0Ub", "Hypertensive disorder, systemic arterial"), c("59621000", "G20..", "Essential hypertension")];

export const CONDITIONS: readonly Condition[] = [
  {
    key: "hypertension",
    codes: HYPERTENSION,
    prevalence: [[30, 0.01], [45, 0.05], [55, 0.15], [65, 0.28], [75, 0.45], [200, 0.6]],
    minOnset: 18,
    medicines: [M.amlodipine5, M.amlodipine10, M.ramipril2_5, M.bendroflumethiazide2_5, M.atenolol50],
  },
  {
    key: "type2_diabetes",
    codes: [c("44054006", "X40J5", "Type 2 diabetes mellitus"), c("73211009", "C10..", "Diabetes mellitus"), c("237599002", "X40JJ", "Insulin treated type 2 diabetes mellitus")],
    prevalence: [[30, 0.002], [45, 0.02], [55, 0.06], [65, 0.11], [75, 0.16], [200, 0.18]],
    femaleRatio: 0.8,
    minOnset: 20,
    medicines: [M.metformin500, M.metformin500, M.atorvastatin20],
    review: c("170777000", "66AS.", "Diabetic annual review"),
  },
  {
    key: "type1_diabetes",
    codes: [c("46635009", "X40J4", "Type 1 diabetes mellitus")],
    prevalence: [[1, 0], [200, 0.004]],
    minOnset: 1,
    review: c("170777000", "66AS.", "Diabetic annual review"),
  },
  {
    key: "asthma",
    codes: [c("195967001", "H33..", "Asthma")],
    prevalence: [[2, 0], [16, 0.09], [200, 0.1]],
    minOnset: 2,
    medicines: [M.beclometasone100, M.beclometasone100, M.adrenalineInhaler],
    review: c("394701000", "XaJv3", "Asthma annual review"),
  },
  {
    key: "copd",
    codes: [c("13645005", "H3...", "Chronic obstructive lung disease"), c("195951007", "H32..", "Acute exacerbation of chronic obstructive airways disease")],
    prevalence: [[40, 0.001], [60, 0.02], [75, 0.05], [200, 0.08]],
    minOnset: 35,
    medicines: [M.beclometasone100],
    review: c("394703002", "XaIkJ", "Chronic obstructive pulmonary disease annual review"),
  },
  {
    key: "atrial_fibrillation",
    codes: [c("49436004", "G573.", "Atrial fibrillation")],
    prevalence: [[50, 0.002], [65, 0.015], [75, 0.05], [85, 0.1], [200, 0.17]],
    femaleRatio: 0.8,
    minOnset: 30,
    medicines: [M.apixaban5, M.rivaroxaban20, M.warfarin1, M.bisoprolol2_5],
  },
  {
    key: "coronary_heart_disease",
    codes: [c("53741008", "G3...", "Coronary arteriosclerosis"), c("194828000", "G33..", "Angina"), c("22298006", "X200E", "Myocardial infarction")],
    prevalence: [[45, 0.002], [65, 0.03], [75, 0.1], [200, 0.16]],
    femaleRatio: 0.5,
    minOnset: 35,
    medicines: [M.clopidogrel75, M.atorvastatin20, M.bisoprolol5],
  },
  {
    key: "heart_failure",
    codes: [c("84114007", "G58..", "Heart failure")],
    prevalence: [[45, 0.001], [65, 0.005], [75, 0.02], [200, 0.06]],
    minOnset: 40,
    medicines: [M.furosemide40, M.bisoprolol2_5, M.ramipril2_5],
  },
  {
    key: "stroke",
    codes: [c("230690007", "X00D1", "Cerebrovascular accident"), c("422504002", "X00DQ", "Ischaemic stroke"), c("266257000", "G65..", "Transient ischaemic attack")],
    prevalence: [[55, 0.003], [65, 0.015], [75, 0.04], [200, 0.08]],
    minOnset: 30,
    medicines: [M.clopidogrel75, M.atorvastatin20],
  },
  {
    key: "ckd",
    codes: [
      c("433144002", "XaLHI", "Chronic kidney disease stage 3"),
      c("709044004", "X30J0", "Chronic kidney disease"),
      c("431857002", "XaNbn", "Chronic kidney disease stage 4"),
      c("433146000", "XaNbo", "Chronic kidney disease stage 5"),
    ],
    prevalence: [[60, 0.01], [75, 0.06], [200, 0.15]],
    minOnset: 30,
  },
  {
    key: "depression",
    codes: [c("35489007", "X00SO", "Depressive disorder")],
    prevalence: [[14, 0], [200, 0.12]],
    femaleRatio: 1.5,
    minOnset: 14,
    medicines: [M.citalopram20],
  },
  {
    key: "anxiety",
    codes: [c("197480006", "E200.", "Anxiety disorder"), c("191736004", "E2000", "Panic disorder")],
    prevalence: [[12, 0], [200, 0.08]],
    femaleRatio: 1.6,
    minOnset: 12,
    medicines: [M.citalopram20],
  },
  {
    key: "dementia",
    codes: [c("52448006", "X002w", "Dementia"), c("26929004", "F110.", "Alzheimer's disease")],
    prevalence: [[65, 0.001], [75, 0.01], [85, 0.05], [200, 0.15]],
    femaleRatio: 1.3,
    minOnset: 55,
  },
  {
    key: "osteoarthritis",
    codes: [c("396275006", "N05..", "Osteoarthritis"), c("239873007", "N05z.", "Osteoarthritis of knee"), c("239872002", "N05z6", "Osteoarthritis of hip")],
    prevalence: [[40, 0.005], [65, 0.08], [200, 0.18]],
    femaleRatio: 1.3,
    minOnset: 35,
    medicines: [M.paracetamol500, M.naproxen500, M.codeine30],
  },
  {
    key: "rheumatoid_arthritis",
    codes: [c("69896004", "N040.", "Rheumatoid arthritis")],
    prevalence: [[30, 0.002], [200, 0.01]],
    femaleRatio: 2,
    minOnset: 20,
    medicines: [M.naproxen500],
  },
  {
    key: "osteoporosis",
    codes: [c("64859006", "N330.", "Osteoporosis")],
    prevalence: [[50, 0.002], [60, 0.02], [200, 0.07]],
    femaleRatio: 3,
    minOnset: 45,
  },
  {
    key: "hypothyroidism",
    codes: [c("40930008", "C04..", "Hypothyroidism")],
    prevalence: [[18, 0.002], [200, 0.03]],
    femaleRatio: 3,
    minOnset: 10,
  },
  {
    key: "epilepsy",
    codes: [c("84757009", "F25..", "Epilepsy"), c("128613002", "X007E", "Seizure disorder")],
    prevalence: [[200, 0.008]],
    minOnset: 1,
    medicines: [M.pregabalin75],
  },
  {
    key: "breast_cancer",
    codes: [c("254837009", "B34..", "Malignant neoplasm of breast")],
    prevalence: [[35, 0], [50, 0.01], [200, 0.03]],
    sex: "female",
    minOnset: 30,
  },
  {
    key: "prostate_cancer",
    codes: [c("399068003", "B46..", "Malignant tumour of prostate")],
    prevalence: [[50, 0], [65, 0.01], [200, 0.04]],
    sex: "male",
    minOnset: 45,
  },
  {
    key: "colorectal_cancer",
    codes: [c("363406005", "B13..", "Malignant tumour of colon"), c("93761005", "B13z.", "Primary malignant neoplasm of colon")],
    prevalence: [[50, 0.0005], [200, 0.01]],
    minOnset: 35,
  },
  {
    key: "lung_cancer",
    codes: [c("363358000", "B22..", "Malignant tumour of lung"), c("254632001", "B22z.", "Small cell carcinoma of lung")],
    prevalence: [[50, 0.0002], [65, 0.004], [200, 0.008]],
    minOnset: 40,
  },
  {
    key: "hypercholesterolaemia",
    codes: [c("13644009", "C320.", "Hypercholesterolaemia"), c("55822004", "C324.", "Hyperlipidaemia")],
    prevalence: [[40, 0.01], [200, 0.1]],
    minOnset: 25,
    medicines: [M.atorvastatin20, M.simvastatin40, M.pravastatin40],
  },
  {
    key: "obesity",
    codes: [c("414916001", "C380.", "Obesity")],
    prevalence: [[18, 0.02], [200, 0.08]],
    minOnset: 5,
  },
  {
    key: "eczema",
    codes: [c("24079001", "M111.", "Atopic dermatitis"), c("43116000", "M07..", "Eczema")],
    prevalence: [[16, 0.1], [200, 0.03]],
    minOnset: 0,
    medicines: [M.cetirizine10],
  },
  {
    key: "psoriasis",
    codes: [c("9014002", "M161.", "Psoriasis")],
    prevalence: [[10, 0.002], [200, 0.02]],
    minOnset: 5,
  },
  {
    key: "gord",
    codes: [c("235595009", "XE0bA", "Gastro-oesophageal reflux disease")],
    prevalence: [[18, 0.005], [200, 0.06]],
    minOnset: 15,
  },
  {
    key: "migraine",
    codes: [c("37796009", "F26..", "Migraine")],
    prevalence: [[10, 0.01], [60, 0.06], [200, 0.04]],
    femaleRatio: 2.5,
    minOnset: 8,
    medicines: [M.paracetamol500],
  },
  {
    key: "gout",
    codes: [c("90560007", "N023.", "Gout")],
    prevalence: [[35, 0.001], [200, 0.03]],
    femaleRatio: 0.3,
    minOnset: 25,
  },
  {
    key: "severe_mental_illness",
    codes: [c("58214004", "E10..", "Schizophrenia"), c("13746004", "E114.", "Bipolar disorder")],
    prevalence: [[16, 0], [200, 0.007]],
    minOnset: 16,
  },
  {
    key: "parkinsons",
    codes: [c("49049000", "F12..", "Parkinson's disease")],
    prevalence: [[55, 0.0002], [70, 0.004], [200, 0.012]],
    femaleRatio: 0.7,
    minOnset: 45,
  },
  {
    key: "cataract",
    codes: [c("193570009", "F441.", "Cataract")],
    prevalence: [[55, 0.002], [70, 0.05], [200, 0.15]],
    minOnset: 45,
  },
  {
    key: "glaucoma",
    codes: [c("23986001", "F45..", "Glaucoma")],
    prevalence: [[50, 0.002], [200, 0.03]],
    minOnset: 40,
  },
  {
    key: "hearing_loss",
    codes: [c("15188001", "F59..", "Hearing loss"), c("60862001", "1C13.", "Tinnitus")],
    prevalence: [[50, 0.01], [70, 0.05], [200, 0.12]],
    minOnset: 30,
  },
  {
    key: "bph",
    codes: [c("266569009", "K20..", "Benign prostatic hyperplasia")],
    prevalence: [[50, 0], [65, 0.06], [200, 0.12]],
    sex: "male",
    minOnset: 45,
  },
  {
    key: "alcohol_dependence",
    codes: [c("7200002", "E23..", "Alcoholism")],
    prevalence: [[18, 0], [200, 0.012]],
    femaleRatio: 0.5,
    minOnset: 18,
  },
  {
    key: "iron_deficiency_anaemia",
    codes: [c("87522002", "D00..", "Iron deficiency anaemia"), c("271737000", "D2...", "Anaemia")],
    prevalence: [[14, 0.005], [200, 0.025]],
    femaleRatio: 2.5,
    minOnset: 1,
  },
  {
    key: "peripheral_vascular_disease",
    codes: [c("400047006", "G73..", "Peripheral vascular disease")],
    prevalence: [[55, 0.002], [200, 0.02]],
    femaleRatio: 0.6,
    minOnset: 40,
  },
  {
    key: "venous_thromboembolism",
    codes: [c("128053003", "G801.", "Deep venous thrombosis"), c("59282003", "G401.", "Pulmonary embolism")],
    prevalence: [[30, 0.002], [200, 0.015]],
    minOnset: 16,
    medicines: [M.apixaban5, M.rivaroxaban20],
  },
];

// ---- acute problems ----------------------------------------------------------

export interface AcuteProblem {
  readonly concept: Concept;
  /** Relative frequency for a child (under 16), an adult, and someone aged 65 or more. */
  readonly weights: readonly [number, number, number];
  /** Only from this date (COVID-19). */
  readonly from?: string;
  readonly until?: string;
  readonly female?: number;
  /** What may be prescribed after it. */
  readonly treatment?: keyof typeof ACUTE_MEDICINES;
}

function a(concept: Concept, weights: readonly [number, number, number], more: Omit<AcuteProblem, "concept" | "weights"> = {}): AcuteProblem {
  return { concept, weights, ...more };
}

export const ACUTE_PROBLEMS: readonly AcuteProblem[] = [
  a(c("54150009", "H05z.", "Upper respiratory infection"), [12, 8, 5], { treatment: "infection" }),
  a(c("82272006", "H00..", "Common cold"), [6, 3, 2]),
  a(c("49727002", "171..", "Cough"), [8, 7, 7]),
  a(c("90176007", "H03..", "Tonsillitis"), [5, 3, 1], { treatment: "infection" }),
  a(c("195662009", "H02..", "Acute viral pharyngitis"), [4, 3, 1]),
  a(c("43878008", "A340.", "Streptococcal sore throat"), [2, 1, 0.3], { treatment: "infection" }),
  a(c("65363002", "F52..", "Otitis media"), [8, 1, 0.5], { treatment: "infection" }),
  a(c("9826008", "F4C0.", "Conjunctivitis"), [4, 2, 1]),
  a(c("68566005", "K190.", "Urinary tract infection"), [1, 4, 6], { female: 4, treatment: "uti" }),
  a(c("10509002", "H060.", "Acute bronchitis"), [2, 3, 4], { treatment: "infection" }),
  a(c("233604007", "H2...", "Pneumonia"), [0.5, 0.5, 2], { treatment: "infection" }),
  a(c("6142004", "H27..", "Influenza"), [1, 1, 1]),
  a(c("36971009", "H13..", "Sinusitis"), [0.5, 2, 1], { treatment: "infection" }),
  a(c("128045006", "M01..", "Cellulitis"), [0.5, 1, 2], { treatment: "infection" }),
  a(c("161891005", "16C..", "Backache"), [0.3, 6, 5], { treatment: "pain" }),
  a(c("25064002", "1B1G.", "Headache"), [2, 4, 2], { treatment: "pain" }),
  a(c("57676002", "N094.", "Joint pain"), [0.5, 4, 6], { treatment: "pain" }),
  a(c("22253000", "1M...", "Pain"), [1, 3, 4], { treatment: "pain" }),
  a(c("62315008", "19F..", "Diarrhoea"), [4, 2, 2]),
  a(c("14760008", "19E..", "Constipation"), [2, 1, 3]),
  a(c("422587007", "19B..", "Nausea"), [1, 1, 1]),
  a(c("21522001", "1969.", "Abdominal pain"), [2, 3, 3], { treatment: "pain" }),
  a(c("404640003", "1491.", "Dizziness"), [0.3, 2, 4]),
  a(c("193462001", "Fy00.", "Insomnia"), [0.3, 2, 2]),
  a(c("84229001", "168..", "Fatigue"), [0.5, 3, 3]),
  a(c("386661006", "165..", "Fever"), [5, 1, 1]),
  a(c("271807003", "M2y..", "Eruption of skin"), [4, 2, 1], { treatment: "allergy" }),
  a(c("267036007", "173..", "Dyspnoea"), [0.5, 2, 5]),
  a(c("29857009", "182..", "Chest pain"), [0.2, 2, 3]),
  a(c("271594007", "R002.", "Syncope"), [0.2, 0.5, 1]),
  a(c("263225007", "S23..", "Fracture of wrist"), [0.3, 0.2, 0.3]),
  a(c("5913000", "S30..", "Fracture of neck of femur"), [0, 0.02, 0.4]),
  a(c("840539006", "Y20d1", "COVID-19"), [1, 2, 2], { from: "2020-03-01" }),
  a(c("1240581000000104", "Y20d2", "SARS-CoV-2 detection result positive"), [1, 2, 2], { from: "2020-03-01", until: "2022-12-31" }),
  a(c("1325161000000102", "Y2a4f", "Post-COVID-19 syndrome"), [0.02, 0.2, 0.2], { from: "2020-10-01" }),
];

// ---- administrative and preventive codes -------------------------------------

export interface AdminCode {
  readonly concept: Concept;
  readonly weights: readonly [number, number, number];
  readonly sex?: "female" | "male";
  readonly ages?: readonly [number, number];
}

function ad(concept: Concept, weights: readonly [number, number, number], more: Omit<AdminCode, "concept" | "weights"> = {}): AdminCode {
  return { concept, weights, ...more };
}

export const ADMIN_CODES: readonly AdminCode[] = [
  ad(c("182836005", "8B3V.", "Review of medication"), [0.5, 4, 10]),
  ad(c("185317003", "XaIkW", "Telephone encounter"), [3, 5, 6]),
  ad(c("1239511000000100", "Y1e3d", "Telephone consultation"), [2, 4, 4]),
  ad(c("185316007", "9N3..", "Indirect encounter"), [2, 3, 4]),
  ad(c("390906007", "XaKbX", "Follow-up encounter"), [2, 3, 4]),
  ad(c("306206005", "8H4..", "Referral to service"), [1, 2, 3]),
  ad(c("183541002", "XaJTJ", "Referral to physiotherapist"), [0.2, 1, 1]),
  ad(c("183452005", "XaJnq", "Emergency hospital admission"), [0.3, 0.3, 1]),
  ad(c("183481006", "8H6..", "Non-urgent hospital admission"), [0.2, 0.3, 0.6]),
  ad(c("134435003", "ZV4KB", "Routine adult health check"), [0, 1, 1], { ages: [40, 75] }),
  ad(c("310512001", "XaIGK", "Cardiovascular disease risk assessment"), [0, 1, 1], { ages: [40, 85] }),
  ad(c("401191002", "XaPp6", "Smear test"), [0, 2, 0.2], { sex: "female", ages: [25, 65] }),
  ad(c("171149006", "685..", "Screening for malignant neoplasm of cervix"), [0, 1, 0.1], { sex: "female", ages: [25, 65] }),
  ad(c("268547008", "686J.", "Screening for malignant neoplasm of breast"), [0, 1, 1], { sex: "female", ages: [50, 71] }),
  ad(c("275978004", "XaMCz", "Screening for malignant neoplasm of colon"), [0, 1, 1], { ages: [60, 75] }),
  ad(c("225323000", "XaAP8", "Smoking cessation education"), [0, 0.5, 0.3], { ages: [16, 120] }),
  ad(c("225358003", "XaIBu", "Wound care"), [0.3, 0.5, 1.5]),
  ad(c("713673000", "XaXsV", "Annual review of chronic disease"), [0.1, 0.5, 2]),
  ad(c("248279007", "XE0eG", "Frailty"), [0, 0, 0.5], { ages: [65, 120] }),
  ad(c("925791000000100", "XaLGf", "Mild frailty"), [0, 0, 0.5], { ages: [65, 120] }),
  ad(c("925831000000107", "XaLGh", "Moderate frailty"), [0, 0, 0.3], { ages: [70, 120] }),
  ad(c("925861000000102", "XaLGj", "Severe frailty"), [0, 0, 0.15], { ages: [75, 120] }),
  ad(c("38013005", "Y0041", "Immunisation"), [2, 0.2, 0.2]),
];

export const FLU_VACCINATION = c("822851000000102", "65ED.", "Seasonal influenza vaccination");
export const COVID_VACCINATIONS = [
  c("1324681000000101", "Y29e7", "Administration of first dose of SARS-CoV-2 vaccine"),
  c("1324691000000104", "Y29e8", "Administration of second dose of SARS-CoV-2 vaccine"),
  c("1362591000000103", "Y2a10", "Immunisation course to maintain protection against SARS-CoV-2"),
];

export const SMOKING = {
  never: [c("266919005", "1371.", "Never smoked tobacco")],
  ex: [c("8517006", "137S.", "Ex-smoker")],
  current: [
    c("77176002", "137R.", "Smoker"),
    c("160603005", "1372.", "Light cigarette smoker"),
    c("160604004", "1373.", "Moderate cigarette smoker"),
    c("160605003", "1374.", "Heavy cigarette smoker"),
    c("230059006", "137e.", "Occasional cigarette smoker"),
    c("722499006", "XaXP6", "Electronic cigarette user"),
  ],
} as const;

// ---- measurements ------------------------------------------------------------

/** What a measurement's value depends on (set once per patient). */
export interface Physiology {
  readonly age: number;
  readonly female: boolean;
  readonly conditions: ReadonlySet<string>;
  /** Usual values: systolic and diastolic pressure, BMI, height (m), creatinine, cholesterol, HbA1c. */
  readonly systolic: number;
  readonly diastolic: number;
  readonly bmi: number;
  readonly height: number;
  readonly creatinine: number;
  readonly cholesterol: number;
  readonly hba1c: number;
  readonly egfr: number;
  readonly alcohol: number;
}

export interface Measurement {
  readonly concept: Concept;
  /** The value on one occasion, at an age: the patient's usual value plus noise (given a standard normal deviate). */
  value(p: Physiology, z: number, age: number): number;
  readonly decimals: number;
  readonly min: number;
  readonly max: number;
  /** A laboratory reference range (for clinical_events_ranges), when the measurement has one. */
  readonly reference?: (p: Physiology) => readonly [number, number];
  /** An alternative code sometimes used instead. */
  readonly alternative?: Concept;
}

function m(concept: Concept, value: Measurement["value"], decimals: number, min: number, max: number, more: Partial<Measurement> = {}): Measurement {
  return { concept, value, decimals, min, max, ...more };
}

export const MEASUREMENTS = {
  systolic: m(c("271649006", "2469.", "Systolic blood pressure"), (p, z) => p.systolic + 9 * z, 0, 70, 240),
  diastolic: m(c("271650006", "246A.", "Diastolic blood pressure"), (p, z) => p.diastolic + 6 * z, 0, 40, 140),
  bmi: m(c("60621009", "22K..", "Body mass index"), (p, z) => p.bmi * (1 + 0.02 * z), 1, 11, 70),
  weight: m(c("27113001", "22A..", "Body weight"), (p, z) => p.bmi * (1 + 0.02 * z) * p.height * p.height, 1, 2, 250),
  height: m(c("50373000", "229..", "Body height"), (p, z) => p.height + 0.01 * z, 2, 0.4, 2.2),
  hba1c: m(c("1049301000000100", "XaPbt", "HbA1c level"), (p, z) => p.hba1c * (1 + 0.08 * z), 0, 18, 150, {
    alternative: c("999791000000106", "XaPbt", "Haemoglobin A1c level - IFCC standardised"),
    reference: () => [20, 42],
  }),
  cholesterol: m(c("1005671000000105", "XE2eD", "Serum cholesterol level"), (p, z) => p.cholesterol + 0.4 * z, 1, 1.5, 12, { reference: () => [0, 5] }),
  hdl: m(c("1005681000000107", "XaEVq", "Serum HDL cholesterol level"), (p, z) => (p.female ? 1.6 : 1.3) + 0.3 * z, 1, 0.4, 3.5, { reference: () => [1, 3] }),
  ldl: m(c("1014501000000104", "XaEVs", "Serum LDL cholesterol level"), (p, z) => p.cholesterol * 0.6 + 0.35 * z, 1, 0.5, 8, { reference: () => [0, 3] }),
  triglycerides: m(c("1005691000000109", "XaEVr", "Serum triglyceride level"), (_, z) => Math.exp(0.3 + 0.45 * z), 1, 0.3, 15, { reference: () => [0, 1.7] }),
  creatinine: m(c("113075003", "XE2q5", "Serum creatinine level"), (p, z) => p.creatinine * (1 + 0.07 * z), 0, 20, 900, {
    reference: (p) => (p.female ? [45, 84] : [59, 104]),
  }),
  egfr: m(c("1011481000000105", "XaZpN", "eGFR using creatinine (CKD-EPI) per 1.73 square metres"), (p, z) => p.egfr + 5 * z, 0, 3, 90, {
    reference: () => [60, 90],
  }),
  sodium: m(c("1000621000000104", "XE2q0", "Serum sodium level"), (_, z) => 139 + 2.5 * z, 0, 120, 160, { reference: () => [133, 146] }),
  potassium: m(c("1000981000000109", "XE2pz", "Serum potassium level"), (_, z) => 4.3 + 0.4 * z, 1, 2.5, 7, { reference: () => [3.5, 5.3] }),
  urea: m(c("1020291000000106", "XE2pt", "Serum urea level"), (p, z, age) => 5 + age / 40 + 1.5 * z, 1, 1, 40, { reference: () => [2.5, 7.8] }),
  haemoglobin: m(c("1022431000000105", "XaBLm", "Haemoglobin estimation"), (p, z) => (p.female ? 132 : 146) + 11 * z, 0, 60, 200, {
    reference: (p) => (p.female ? [115, 165] : [130, 180]),
  }),
  whiteCells: m(c("1022541000000102", "XaIdY", "Total white cell count"), (_, z) => Math.exp(1.9 + 0.25 * z), 1, 1, 40, { reference: () => [4, 11] }),
  platelets: m(c("1022651000000100", "42P..", "Platelet count"), (_, z) => 260 + 60 * z, 0, 20, 900, { reference: () => [150, 400] }),
  mcv: m(c("1022461000000100", "42J..", "Mean corpuscular volume"), (_, z) => 90 + 5 * z, 0, 60, 125, { reference: () => [80, 100] }),
  neutrophils: m(c("1022581000000105", "XaIdx", "Neutrophil count"), (_, z) => Math.exp(1.4 + 0.3 * z), 1, 0.3, 30, { reference: () => [2, 7.5] }),
  alt: m(c("1018251000000107", "XaELV", "Serum alanine aminotransferase level"), (_, z) => Math.exp(3.1 + 0.4 * z), 0, 4, 600, { reference: () => [0, 40] }),
  tsh: m(c("1022791000000101", "XaELP", "Serum TSH level"), (p, z) => Math.exp((p.conditions.has("hypothyroidism") ? 1.1 : 0.6) + 0.45 * z), 2, 0.01, 60, {
    reference: () => [0.27, 4.2],
  }),
  freeT4: m(c("1017381000000106", "XaJ8S", "Serum free T4 level"), (_, z) => 16 + 2.5 * z, 1, 4, 50, { reference: () => [12, 22] }),
  vitaminD: m(c("1000661000000107", "XaIRd", "Serum vitamin D level"), (_, z) => Math.exp(3.8 + 0.45 * z), 0, 5, 250, { reference: () => [50, 175] }),
  glucose: m(c("1001371000000100", "XaK3N", "Plasma glucose level"), (p, z) => (p.hba1c > 47 ? 9 : 5.3) + 1.2 * z, 1, 2, 35, { reference: () => [3, 6] }),
  urineAcr: m(c("1023491000000104", "XaPby", "Urine albumin:creatinine ratio"), (p, z) => Math.exp((p.egfr < 60 ? 1.5 : 0) + 0.9 * z), 1, 0.1, 300, { reference: () => [0, 3] }),
  heartRate: m(c("364075005", "242..", "Heart rate"), (p, z, age) => (age < 12 ? 95 : 74) + 11 * z, 0, 35, 190),
  oxygenSaturation: m(c("103228002", "XaIS8", "Oxygen saturation"), (p, z) => Math.min(100, (p.conditions.has("copd") ? 94 : 97.5) + 1.3 * z), 0, 80, 100),
  respiratoryRate: m(c("86290005", "235..", "Respiratory rate"), (p, z, age) => (age < 12 ? 22 : 16) + 2.5 * z, 0, 8, 50),
  temperature: m(c("276885007", "2E3..", "Core body temperature"), (_, z) => 36.7 + 0.5 * Math.abs(z), 1, 35, 41.5),
  alcoholUnits: m(c("1082641000000106", "XaNcU", "Alcohol units per week"), (p, z) => p.alcohol * Math.exp(0.3 * z), 0, 0, 150),
  qrisk: m(c("1085871000000105", "XaQVY", "QRISK3 cardiovascular disease 10 year risk score"), (p, z, age) => 0.5 + 38 * Math.pow(Math.max(0, age - 30) / 55, 2.2) * Math.exp(0.35 * z), 1, 0.1, 95),
} as const;
export type MeasurementKey = keyof typeof MEASUREMENTS;

/** Measurements taken together on one occasion. */
export const PANELS: readonly { readonly name: string; readonly items: readonly MeasurementKey[]; readonly weights: readonly [number, number, number]; readonly minAge?: number }[] = [
  { name: "blood pressure", items: ["systolic", "diastolic"], weights: [0.3, 7, 10], minAge: 5 },
  { name: "weight", items: ["weight", "bmi"], weights: [3, 3, 3] },
  { name: "height", items: ["height"], weights: [2, 0.5, 0.3] },
  { name: "renal", items: ["creatinine", "egfr", "sodium", "potassium", "urea"], weights: [0.1, 1.2, 3], minAge: 16 },
  { name: "lipids", items: ["cholesterol", "hdl", "ldl", "triglycerides"], weights: [0, 0.8, 1.5], minAge: 25 },
  { name: "full blood count", items: ["haemoglobin", "whiteCells", "platelets", "mcv", "neutrophils"], weights: [0.2, 1.2, 2.5] },
  { name: "HbA1c", items: ["hba1c"], weights: [0.05, 0.8, 1.5], minAge: 10 },
  { name: "liver", items: ["alt"], weights: [0.1, 0.8, 1.2], minAge: 10 },
  { name: "thyroid", items: ["tsh", "freeT4"], weights: [0.05, 0.6, 0.8], minAge: 10 },
  { name: "vitamin D", items: ["vitaminD"], weights: [0.02, 0.2, 0.3], minAge: 10 },
  { name: "glucose", items: ["glucose"], weights: [0.02, 0.3, 0.5], minAge: 10 },
  { name: "observations", items: ["heartRate", "oxygenSaturation", "respiratoryRate", "temperature"], weights: [1.5, 1, 1.5] },
  { name: "alcohol", items: ["alcoholUnits"], weights: [0, 0.6, 0.4], minAge: 16 },
  { name: "QRISK", items: ["qrisk"], weights: [0, 0.4, 0.6], minAge: 40 },
];

/** Extra panels for a condition's monitoring. */
export const MONITORING: Readonly<Record<string, readonly MeasurementKey[][]>> = {
  type2_diabetes: [["hba1c"], ["hba1c"], ["urineAcr"], ["creatinine", "egfr"]],
  type1_diabetes: [["hba1c"], ["hba1c"], ["urineAcr"]],
  hypertension: [["systolic", "diastolic"], ["systolic", "diastolic"], ["creatinine", "egfr", "sodium", "potassium"]],
  ckd: [["creatinine", "egfr", "potassium"], ["urineAcr"]],
  hypothyroidism: [["tsh"], ["tsh", "freeT4"]],
  coronary_heart_disease: [["cholesterol", "hdl", "ldl"], ["systolic", "diastolic"]],
  atrial_fibrillation: [["heartRate"], ["haemoglobin", "platelets"]],
  obesity: [["weight", "bmi"]],
  heart_failure: [["creatinine", "egfr", "potassium", "sodium"]],
};

// ---- ICD-10 (hospital diagnoses and causes of death) -----------------------

/** Causes of death: [ICD-10 code, weight under 65, weight at 65 and over]. */
export const DEATH_CAUSES: readonly (readonly [string, number, number])[] = [
  ["I219", 4, 5], ["I251", 6, 9], ["I500", 1, 4], ["I64", 2, 5], ["I639", 1, 3], ["I489", 0.3, 2], ["I10", 0.3, 1],
  ["C349", 6, 6], ["C509", 4, 2], ["C61", 1, 3], ["C189", 3, 3], ["C259", 3, 2], ["C159", 2, 1.5], ["C169", 1, 1], ["C80", 1, 1.5], ["C900", 0.5, 1], ["C859", 1, 1],
  ["J449", 2, 5], ["J189", 1, 5], ["J440", 1, 2], ["J841", 0.5, 1.5],
  ["F03", 0.2, 10], ["G309", 0.2, 6], ["F019", 0.1, 3], ["G20", 0.2, 1.5],
  ["U071", 2, 4], ["A419", 1, 2], ["N390", 0.2, 1], ["N189", 0.3, 1.5], ["E149", 0.5, 1], ["E119", 0.5, 1],
  ["K746", 4, 1], ["K703", 3, 0.5], ["X599", 1, 1], ["W19", 0.5, 2], ["X44", 2, 0.2], ["X70", 2, 0.1], ["V892", 1.5, 0.2], ["R54", 0, 2], ["G122", 0.5, 0.3],
];

/** Other causes on a death certificate. */
export const CONTRIBUTING_CAUSES = ["I10", "E119", "J449", "F03", "I489", "N189", "I251", "E669", "J181", "R627", "A419", "I500", "E149", "K729", "R54"];

/** Hospital diagnoses: [ICD-10, weight]. */
export const HOSPITAL_DIAGNOSES: readonly (readonly [string, number])[] = [
  ["R074", 6], ["R104", 5], ["J189", 5], ["N390", 4], ["J441", 3], ["I480", 2], ["I214", 2], ["I500", 2], ["K359", 1.5], ["K802", 1.5],
  ["S720", 2], ["O800", 3], ["O809", 1], ["Z380", 2], ["M179", 2], ["M161", 2], ["H259", 3], ["K573", 1], ["C509", 1.5], ["C189", 1],
  ["L031", 1.5], ["R55", 2], ["A099", 2], ["E86", 1], ["U071", 2], ["J459", 1], ["I639", 1.5], ["G459", 1], ["F329", 0.5], ["T391", 0.5], ["Z511", 2], ["D649", 1],
];

/** Secondary diagnoses, often chronic conditions. */
export const SECONDARY_DIAGNOSES = ["I10", "E119", "J449", "J459", "Z867", "Z922", "I489", "N183", "E039", "F419", "F329", "E785", "Z950", "Z880", "K219", "M199"];

// ---- OPCS-4 ------------------------------------------------------------------

export const PROCEDURES: readonly (readonly [string, number])[] = [
  ["C751", 4], ["H221", 3], ["G451", 3], ["W371", 2], ["W401", 2], ["H011", 1], ["J183", 1.5], ["M451", 1.5], ["Q071", 0.5], ["K401", 0.3],
  ["R181", 2], ["R171", 1], ["X292", 1.5], ["U051", 2], ["U212", 2], ["Y981", 1], ["E031", 0.5], ["S068", 1], ["T201", 0.8], ["A521", 0.5], ["L851", 0.5], ["X403", 0.3],
];

// ---- other code systems and value pools --------------------------------------

/** BNF presentation codes (for any bnf column). */
export const BNF_CODES = ["0212000B0AAABAB", "0206020A0AAAAAA", "0601022B0AAABAB", "0103050P0AAAAAA", "0501013B0AAABAB", "0407010H0AAAMAM", "0304010G0AAAAAA", "0302000C0AAAAAA"];

/** HRG codes (Healthcare Resource Groups). */
export const HRG_CODES = ["FD10M", "WH50A", "AA22C", "EB03E", "DZ11R", "LA04N", "HT12C", "BZ34B", "FZ91A", "JD07K", "VB09Z", "VB08Z", "VB07Z", "WF01B", "WF01A", "NZ16B", "SA08J", "EB04Z"];

/** ECDS SNOMED CT codes for A&E. */
export const EC_DIAGNOSES = [
  "125605004", "283682007", "417163006", "125667009", "22253000", "82271004", "39848009", "7895008", "29857009", "21522001", "271594007",
  "195967001", "195951007", "233604007", "68566005", "128045006", "840539006", "49436004", "22298006", "230690007", "62315008", "422400008",
];
export const EC_DISCHARGE_DESTINATIONS: readonly (readonly [string, number])[] = [
  ["306689006", 60], ["306706006", 20], ["1066331000000109", 3], ["1066341000000100", 3], ["1066361000000104", 1], ["1066371000000106", 0.5],
  ["1066401000000108", 2], ["19712007", 2], ["306694006", 1], ["183919006", 0.2], ["50861005", 2], ["306705005", 0.3], ["1066351000000102", 1],
  ["1066381000000108", 1], ["1066391000000105", 1],
];

/** Treatment function codes (outpatient specialties). */
export const TREATMENT_FUNCTIONS = ["100", "101", "110", "120", "130", "160", "300", "301", "320", "330", "340", "400", "410", "420", "430", "502", "503", "811", "812", "650"];

export const NUTS1_REGIONS = ["North East", "North West", "Yorkshire and The Humber", "East Midlands", "West Midlands", "East", "London", "South East", "South West"];
/** Relative population of each NUTS1 region of England, with TPP's skew towards the East and the North. */
export const REGION_WEIGHTS = [6, 12, 12, 11, 9, 14, 8, 12, 10];
